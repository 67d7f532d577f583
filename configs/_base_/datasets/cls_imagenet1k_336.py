# ImageNet-1K at 336 for EVA's 10-epoch fine-tune (SPEC §3).
# [EVA] RandomResizedCrop scale (0.08, 1) bicubic, RandAugment rand-m9-mstd0.5-inc1, no random
# erasing, no Mixup/CutMix; test: crop_pct 1.0 -> resize the short edge to 336, centre crop.
dataset_type = 'ImageNet'
img_size = 336
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=img_size, crop_ratio_range=(0.08, 1.0),
         backend='pillow', interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandAugment', policies='timm_increasing', num_policies=2, total_level=10,
         magnitude_level=9, magnitude_std=0.5,
         hparams=dict(pad_val=[104, 116, 124], interpolation='bicubic')),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=img_size, edge='short', backend='pillow',
         interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=img_size),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=16,  # [EVA] 16 per GPU x 32 GPUs = 512
    num_workers=8,
    # False: an epoch-based loop resumed at epoch k restarts the workers, so only workers
    # restarted every epoch repeat an uninterrupted run exactly (eva_mm.RNGStateHook)
    persistent_workers=False,
    dataset=dict(type=dataset_type, data_root='data/imagenet', split='train',
                 pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True))
val_dataloader = dict(
    batch_size=16,
    num_workers=8,
    dataset=dict(type=dataset_type, data_root='data/imagenet', split='val',
                 pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_dataloader = val_dataloader
test_evaluator = val_evaluator
