# ADE20K (150 classes) at 896 crops, mmseg 1.x pipelines, as the official EVA-01 ADE20K run
# (EVA-01/seg/configs/ade20k/eva_mask2former_896_20k_coco164k2ade20k_{ss,ms}.py):
# single-scale test = short side 896 (long side <= 3584) then ResizeToMultiple(32); the
# multi-scale + flip test (62.3 mIoU) additionally pads every scale to at least 896 x 896
# (eva_mm.PadShortSide, black pixels before normalisation) and crops that pad off the
# prediction (eva_mm.EncoderDecoder, the official EncoderDecoderMask2FormerAug).
dataset_type = 'ADE20KDataset'
data_root = 'data/ade/ADEChallengeData2016'
data_crop_size = (896, 896)
data_num_classes = 150
base_scale = (3584, 896)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='eva_mm.LoadSegAnnotations', reduce_zero_label=True),
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
    dict(type='eva_mm.LoadSegAnnotations', reduce_zero_label=True),
    dict(type='eva_mm.CheckSegLabels', num_classes=data_num_classes),
    dict(type='PackSegInputs')
]
# PackSegInputs' default meta keys + the pad eva_mm.PadShortSide records
pack_meta_keys = ('img_path', 'seg_map_path', 'ori_shape', 'img_shape', 'pad_shape',
                  'scale_factor', 'flip', 'flip_direction', 'reduce_zero_label',
                  'short_side_padding')
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
            [dict(type='eva_mm.PadShortSide', size=data_crop_size[0], pad_val=0)],
            [dict(type='eva_mm.LoadSegAnnotations', reduce_zero_label=True)],
            [dict(type='PackSegInputs', meta_keys=pack_meta_keys)]
        ])
]
# eva_mm's: mmseg's SegTTAModel that refuses to wrap a TTA model (`tools/test.py X_ms.py --tta`)
tta_model = dict(type='eva_mm.SegTTAModel')
train_dataloader = dict(
    batch_size=1,  # x 64 processes = the official total batch 64 (64 GPUs x 1)
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='images/training', seg_map_path='annotations/training'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_prefix=dict(img_path='images/validation', seg_map_path='annotations/validation'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
