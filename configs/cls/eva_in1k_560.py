# EVA-g fine-tune on ImageNet-1K at 560 (SPEC §3: 10 epochs, 89.7 top-1); everything else as
# the 336 run. (The official README's model card lists 15 epochs for its 560 checkpoint; SPEC
# and the paper text say 10 -- pass --cfg-options train_cfg.max_epochs=15 ... to reproduce that.)
_base_ = ['./eva_in1k_336.py']
img_size = 560
model = dict(backbone=dict(img_size=img_size))
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
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
