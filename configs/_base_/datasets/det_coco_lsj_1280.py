# COCO 2017 instances with large-scale jitter at 1280 (SPEC §3: COCO at 1280^2).
# LSJ: random resize of the long side target 1280 by 0.1-2.0, fixed 1280 crop. No pipeline
# Pad: the model's data preprocessor pads to 1280 x 1280 with 0 AFTER normalisation, as the
# official detector (a uint8 Pad(114) would differ, and would make img_shape the padded size).
# Test resize: long side to 1280 with PIL bilinear (the official ResizeShortestEdge(1280,
# max_size=1280); cv2's bilinear differs by up to 38 grey levels on downscales).
dataset_type = 'eva_mm.CheckedCocoDataset'
data_root = 'data/coco/'
image_size = (1280, 1280)
backend_args = None
test_resize = dict(type='Resize', scale=image_size, keep_ratio=True, backend='pillow',
                   interpolation='bilinear')

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='RandomResize', scale=image_size, ratio_range=(0.1, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_type='absolute_range', crop_size=image_size,
         recompute_bbox=True, allow_negative_crop=True),
    dict(type='FilterAnnotations', min_gt_bbox_wh=(1e-2, 1e-2)),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    test_resize,
    dict(type='LoadAnnotations', with_bbox=True, with_mask=True),
    dict(type='PackDetInputs',
         meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor')),
]
# flip TTA at the test size (tools/test.py --tta, or the *_tta.py configs). EVA-01 publishes no
# detection TTA; views must fit the data preprocessor's square pad (the test size).
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='TestTimeAug',
         transforms=[
             [test_resize],
             [dict(type='RandomFlip', prob=1.), dict(type='RandomFlip', prob=0.)],
             [dict(type='LoadAnnotations', with_bbox=True, with_mask=True)],
             [dict(type='PackDetInputs',
                   meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor',
                              'flip', 'flip_direction'))],
         ]),
]
tta_model = dict(type='eva_mm.DetMaskTTAModel',
                 tta_cfg=dict(nms=dict(type='soft_nms', iou_threshold=0.5), max_per_img=100))

train_dataloader = dict(
    batch_size=1,  # x 64 processes = batch 64
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type=dataset_type, data_root=data_root,
                 ann_file='annotations/instances_train2017.json',
                 data_prefix=dict(img='train2017/'),
                 filter_cfg=dict(filter_empty_gt=True, min_size=32),
                 pipeline=train_pipeline, backend_args=backend_args))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, data_root=data_root,
                 ann_file='annotations/instances_val2017.json',
                 data_prefix=dict(img='val2017/'), test_mode=True,
                 pipeline=test_pipeline, backend_args=backend_args))
test_dataloader = val_dataloader
val_evaluator = dict(type='CocoMetric', ann_file=data_root + 'annotations/instances_val2017.json',
                     metric=['bbox', 'segm'], format_only=False, backend_args=backend_args)
test_evaluator = val_evaluator
