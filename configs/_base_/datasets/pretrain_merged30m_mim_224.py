# EVA MIM data (SPEC §2): the merged 29.6M public images (IN-21K, CC12M, CC3M, Objects365,
# COCO train, ADE20K train), images only, one folder tree (no labels) under data_root.
# RandomResizedCrop(224, scale 0.2-1.0) + flip, no colour jitter; block-wise masks of 105 of
# the 16x16 patches (the official --num_mask_patches 105), blocks >= 16 patches, aspect
# 0.3-3.33. Batch 32 per GPU x 128 GPUs = 4096.
data_root = 'data/merged_30m'
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=224, crop_ratio_range=(0.2, 1.0), backend='pillow',
         interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='eva_mm.BlockwiseMaskGenerator', input_size=16, num_masking_patches=105,
         min_num_patches=16, min_aspect=0.3),
    dict(type='PackInputs', algorithm_keys=['mask']),
]
train_dataloader = dict(
    batch_size=32,
    num_workers=10,
    # False: an epoch-based loop resumed at epoch k restarts the workers, so only workers
    # restarted every epoch repeat an uninterrupted run exactly (eva_mm.RNGStateHook)
    persistent_workers=False,
    pin_memory=True,
    drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='CustomDataset', data_root=data_root, with_label=False,
                 pipeline=train_pipeline))
