# Synthetic shapes, LVIS v1 format (tools/data/make_shapes_det.py): 24 long-tailed classes
# in r/c/f groups, neg/not-exhaustive category ids; repeat-factor sampling 0.001 and lvis-api
# evaluation as the full LVIS recipe.
dataset_type = 'eva_mm.CheckedLVISV1Dataset'
data_root = 'data/shapes_det/'
image_size = (128, 128)
shapes = ('circle', 'square', 'triangle', 'diamond')
colours = ('red', 'green', 'blue', 'yellow', 'magenta', 'cyan')
metainfo = dict(classes=tuple(f'{c}_{s}' for s in shapes for c in colours))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomResize', scale=image_size, ratio_range=(0.75, 1.25), keep_ratio=True),
    dict(type='RandomCrop', crop_type='absolute_range', crop_size=image_size,
         recompute_bbox=True, allow_negative_crop=True),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1e-2, 1e-2)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
train_dataloader = dict(
    batch_size=2,
    num_workers=0,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='ClassBalancedDataset',
        # LVIS uses 0.001 (of ~100k images); on 300 images no category is that rare, so
        # the threshold is raised to 0.1: rare classes repeat ~5x, common ~1.2x
        oversample_thr=0.1,
        dataset=dict(type=dataset_type, data_root=data_root, metainfo=metainfo,
                     ann_file='annotations/lvis_train.json', data_prefix=dict(img=''),
                     filter_cfg=dict(filter_empty_gt=True), pipeline=train_pipeline)))
val_dataloader = dict(
    batch_size=4,
    num_workers=0,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root, metainfo=metainfo,
                 ann_file='annotations/lvis_val.json', data_prefix=dict(img=''),
                 test_mode=True, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='LVISMetric', ann_file=data_root + 'annotations/lvis_val.json',
                     metric=['bbox', 'segm'])
test_evaluator = val_evaluator
