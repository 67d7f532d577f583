# Tiny EVA MIM on the generated captioned_shapes images (tools/data/make_captioned_shapes.py):
# the same EVAMIM (EVAViT student with [MASK] token, frozen open_clip CLIP ViT teacher, masked
# negative-cosine loss) and block-wise masking as eva_mim_clip-l.py, but a 4-block 64-wide
# student and a random-init 2-block 48-wide CLIP teacher on 48x48 images (patch 8: 6x6 grid,
# 14 of 36 patches masked in blocks >= 4) that trains on CPU in minutes. The val metric is
# the mean masked-patch cosine similarity on the held-out images (also before training).
#   python tools/train.py configs/pretrain/eva-tiny_mim_shapes.py
#   bash tools/dist_train.sh configs/pretrain/eva-tiny_mim_shapes.py 2   # DDP, gloo on CPU
_base_ = ['../_base_/models/pretrain_eva-g_mim_clip-l.py']
model = dict(
    backbone=dict(
        arch=dict(_delete_=True, embed_dims=64, num_layers=4, num_heads=2,
                  feedforward_channels=256),
        img_size=48, patch_size=8, drop_path_rate=0.0),
    teacher=dict(_delete_=True, type='eva_mm.OpenCLIPVisionTeacher',
                 model_cfg=dict(embed_dim=32, vision_cfg=dict(
                     image_size=48, patch_size=8, width=48, layers=2, head_width=24))))

data_root = 'data/captioned_shapes'
mask = dict(type='eva_mm.BlockwiseMaskGenerator', input_size=6, num_masking_patches=14,
            min_num_patches=4, min_aspect=0.3)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=48, crop_ratio_range=(0.2, 1.0), backend='pillow',
         interpolation='bicubic'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    mask,
    dict(type='PackInputs', algorithm_keys=['mask']),
]
val_pipeline = [dict(type='LoadImageFromFile'), dict(mask, seed=0),
                dict(type='PackInputs', algorithm_keys=['mask'])]
train_dataloader = dict(
    batch_size=16, num_workers=0, drop_last=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='CustomDataset', data_root=data_root, data_prefix='train',
                 with_label=False, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=60, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='CustomDataset', data_root=data_root, data_prefix='val',
                 with_label=False, pipeline=val_pipeline))
val_evaluator = dict(type='eva_mm.MaskedCosineSimilarity')

max_iters = 200
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.05),
    clip_grad=dict(max_norm=3.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=20),
    dict(type='CosineAnnealingLR', T_max=max_iters - 20, eta_min=1e-5, by_epoch=False,
         begin=20, end=max_iters)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=100)
val_cfg = dict()
# eva_mm.RNGStateHook: random states saved in checkpoints and restored on resume, so a resumed
# run draws the same drop-path / dropout masks as an uninterrupted one.
# The tiny CLIP teacher is random on purpose (no pretrained tiny CLIP exists): said explicitly
# here, and CheckPretrainedWeightsHook logs it as a warning at start.
allow_random_init = True
custom_hooks = [dict(type='eva_mm.RNGStateHook'), dict(type='eva_mm.CheckPretrainedWeightsHook'),
                dict(type='eva_mm.ValidateBeforeTrainHook'),
                dict(type='eva_mm.ExportStudentHook', filename='eva_mim_student.pth')]
default_hooks = dict(logger=dict(interval=10, log_metric_by_epoch=False),
                     checkpoint=dict(by_epoch=False, interval=max_iters, max_keep_ckpts=1))
log_processor = dict(by_epoch=False, window_size=10)
env_cfg = dict(dist_cfg=dict(backend='gloo'))
