# Tiny EVA classifier on the generated shapes_cls set (tools/data/make_shapes_cls.py): the same
# ImageClassifier + eva_mm.EVAViT + linear head + layer-decay AdamW as the EVA-g configs, but a
# 4-block 96-wide ViT on 32x32 images (patch 8) that trains from scratch on CPU in a few minutes.
#   python tools/data/make_shapes_cls.py && python tools/train.py configs/cls/eva-tiny_shapes.py
_base_ = ['../_base_/models/cls_eva-g.py']
num_classes = 4
model = dict(
    backbone=dict(
        arch=dict(_delete_=True, embed_dims=96, num_layers=4, num_heads=3,
                  feedforward_channels=384),
        img_size=32, patch_size=8, drop_path_rate=0.0, with_cp=False),
    head=dict(num_classes=num_classes, in_channels=96,
              init_cfg=dict(type='TruncNormal', layer='Linear', std=0.02), topk=(1, )),
    data_preprocessor=dict(num_classes=num_classes))

data_root = 'data/shapes_cls'
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
train_dataloader = dict(
    batch_size=32, num_workers=0,
    dataset=dict(type='CustomDataset', data_root=data_root, data_prefix='train',
                 pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True))
val_dataloader = dict(
    batch_size=64, num_workers=0,
    dataset=dict(type='CustomDataset', data_root=data_root, data_prefix='val',
                 pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_dataloader = val_dataloader
test_evaluator = val_evaluator

max_epochs = 10
optim_wrapper = dict(
    type='OptimWrapper',
    constructor='eva_mm.LayerDecayOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=2e-3, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(layer_decay_rate=0.9))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - 1, eta_min=1e-5, by_epoch=True, begin=1,
         end=max_epochs, convert_to_iter_based=True)
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=5)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(logger=dict(interval=5),
                     checkpoint=dict(interval=max_epochs, max_keep_ckpts=1))
env_cfg = dict(dist_cfg=dict(backend='gloo'))

# eva_mm.RNGStateHook: random states saved in checkpoints and restored on resume.
# Trained from scratch on purpose (CPU demo): said explicitly here, and
# CheckPretrainedWeightsHook logs a warning at start that the backbone starts random.
allow_random_init = True
custom_hooks = [dict(type='eva_mm.RNGStateHook'), dict(type='eva_mm.CheckPretrainedWeightsHook')]
