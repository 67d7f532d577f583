# LVIS v1 instances, LSJ at 1280, repeat-factor sampling (threshold 0.001), LVIS evaluation
# through lvis-api (mmdet's LVISMetric). SPEC §3: as COCO, plus federated loss + RFS.
dataset_type = 'eva_mm.CheckedLVISV1Dataset'
data_root = 'data/lvis_v1/'
image_size = (1280, 1280)
backend_args = None
pad = dict(type='Pad', size=image_size, pad_val=dict(img=(114, 114, 114)))

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomResize', scale=image_size, ratio_range=(0.1, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_type='absolute_range', crop_size=image_size,
         recompute_bbox=True, allow_negative_crop=True),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1e-2, 1e-2)),
    dict(type='RandomFlip', prob=0.5),
    pad,
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=image_size, keep_ratio=True),
    pad,
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
tta_scales = [(1024, 1024), (1280, 1280), (1536, 1536)]
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='TestTimeAug',
         transforms=[
             [dict(type='Resize', scale=s, keep_ratio=True) for s in tta_scales],
             [dict(type='RandomFlip', prob=1.), dict(type='RandomFlip', prob=0.)],
             [dict(type='LoadAnnotations', with_bbox=True, with_mask=True)],
             [dict(type='PackDetInputs',
                   meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor',
                              'flip', 'flip_direction'))],
         ]),
]
tta_model = dict(type='eva_mm.DetMaskTTAModel',
                 tta_cfg=dict(nms=dict(type='soft_nms', iou_threshold=0.5), max_per_img=300))

train_dataloader = dict(
    batch_size=1,  # x 64 processes = batch 64
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type='ClassBalancedDataset',  # repeat-factor sampling (LVIS paper / detectron2 RFS)
        oversample_thr=1e-3,
        dataset=dict(type=dataset_type, data_root=data_root,
                     ann_file='annotations/lvis_v1_train.json', data_prefix=dict(img=''),
                     filter_cfg=dict(filter_empty_gt=True, min_size=32),
                     pipeline=train_pipeline, backend_args=backend_args)))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root,
                 ann_file='annotations/lvis_v1_val.json', data_prefix=dict(img=''),
                 test_mode=True, pipeline=test_pipeline, backend_args=backend_args))
test_dataloader = val_dataloader
val_evaluator = dict(type='LVISMetric', ann_file=data_root + 'annotations/lvis_v1_val.json',
                     metric=['bbox', 'segm'], backend_args=backend_args)
test_evaluator = val_evaluator
