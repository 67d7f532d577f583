# COCO-Stuff-164K (171 classes; labels converted by mmseg's tools/dataset_converters/
# coco_stuff164k.py to 0..170, 255 ignored) at 896 crops, as the official EVA-01 run
# (EVA-01/seg/configs/coco_stuff164k/eva_mask2former_896_60k_cocostuff164k_ss.py; test: short
# side 896, then ResizeToMultiple(32)), with a multi-scale + flip TTA pipeline (eva_mm's own:
# the official repository has no COCO-Stuff multi-scale test).
dataset_type = 'COCOStuffDataset'
data_root = 'data/coco_stuff164k'
data_crop_size = (896, 896)
data_num_classes = 171
base_scale = (3584, 896)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='eva_mm.LoadSegAnnotations'),
    dict(type='eva_mm.CheckSegLabels', num_classes=data_num_classes),
    dict(type='RandomResize', scale=base_scale, ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=data_crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=base_scale, keep_ratio=True),
    dict(type='ResizeToMultiple', size_divisor=32),
    dict(type='eva_mm.LoadSegAnnotations'),
    dict(type='eva_mm.CheckSegLabels', num_classes=data_num_classes),
    dict(type='PackSegInputs')
]
tta_ratios = [512 / 896, 640 / 896, 768 / 896, 1.0, 1024 / 896, 1152 / 896, 1280 / 896]
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(
        type='TestTimeAug',
        transforms=[
            [dict(type='Resize', scale=(int(base_scale[0] * r), int(base_scale[1] * r)),
                  keep_ratio=True) for r in tta_ratios],
            [dict(type='ResizeToMultiple', size_divisor=32)],
            [dict(type='RandomFlip', prob=0., direction='horizontal'),
             dict(type='RandomFlip', prob=1., direction='horizontal')],
            [dict(type='eva_mm.LoadSegAnnotations')],
            [dict(type='PackSegInputs')]
        ])
]
# eva_mm's: mmseg's SegTTAModel that refuses to wrap a TTA model (`tools/test.py X_ms.py --tta`)
tta_model = dict(type='eva_mm.SegTTAModel')
train_dataloader = dict(
    batch_size=1,  # x 32 processes = the official total batch 32 (32 GPUs x 1)
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='images/train2017', seg_map_path='annotations/train2017'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='images/val2017', seg_map_path='annotations/val2017'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
