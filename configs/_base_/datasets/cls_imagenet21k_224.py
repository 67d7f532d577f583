# ImageNet-21K (21841 classes) image folder for EVA's intermediate fine-tune at 224 (SPEC §3).
# [EVA] official command: RandomResizedCrop scale (0.5, 1), bicubic, RandAugment
# rand-m9-mstd0.5-inc1 (BEiT default --aa), no random erasing (reprob 0), CutMix 1.0 / no Mixup
# (set in the leaf's model.train_cfg), no evaluation during the run.
dataset_type = 'CustomDataset'
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224, crop_ratio_range=(0.5, 1.0), backend='pillow',
         interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='RandAugment', policies='timm_increasing', num_policies=2, total_level=10,
         magnitude_level=9, magnitude_std=0.5,
         hparams=dict(pad_val=[104, 116, 124], interpolation='bicubic')),
    dict(type='PackInputs'),
]
train_dataloader = dict(
    batch_size=64,  # [EVA] 64 per GPU x 64 GPUs = 4096
    num_workers=8,
    # False: an epoch-based loop resumed at epoch k restarts the workers, so only workers
    # restarted every epoch repeat an uninterrupted run exactly (eva_mm.RNGStateHook)
    persistent_workers=False,
    dataset=dict(type=dataset_type, data_root='data/imagenet21k', data_prefix='train',
                 pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True))
# [EVA] --disable_eval_during_finetuning
val_dataloader = None
val_evaluator = None
test_dataloader = None
test_evaluator = None
