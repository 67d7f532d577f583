# Tiny EVA-CLIP on the generated captioned_shapes pairs: the same EVACLIP (EVAViT image tower
# initialised from the tiny MIM run's student, open_clip text transformer + tokenizer,
# gathered local contrastive loss, learnable temperature) as eva_clip_g.py, with zero-shot
# evaluation on the held-out val images over the 12 colour-shape classes (chance 8.3%).
#   python tools/train.py configs/pretrain/eva-tiny_mim_shapes.py      # first: the MIM init
#   python tools/train.py configs/pretrain/eva-tiny_clip_shapes.py
_base_ = ['../_base_/models/pretrain_eva-clip-g.py']
model = dict(
    vision=dict(
        arch=dict(_delete_=True, embed_dims=64, num_layers=4, num_heads=2,
                  feedforward_channels=256),
        img_size=48, patch_size=8,
        drop_path_rate=0.0,  # (the paper's 0.4 regularises a 1B tower; this one is tiny)
        init_cfg=dict(type='Pretrained',
                      checkpoint='work_dirs/eva-tiny_mim_shapes/eva_mim_student.pth')),
    embed_dim=64,
    text_cfg=dict(context_length=16, vocab_size=49408, width=64, heads=2, layers=2),
    quick_gelu=False,
    text_checkpoint=None)
# The tiny text tower is random on purpose (no pretrained tiny text encoder exists): said
# explicitly here, and CheckPretrainedWeightsHook logs it as a warning at start. The image
# tower's MIM student must exist.
allow_random_init = True
pretrained_weights = {
    'model.vision.init_cfg': 'the tiny MIM student: run configs/pretrain/eva-tiny_mim_shapes.py '
    'first (bash tools/demo_pretrain.sh does both)'}

data_root = 'data/captioned_shapes'
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', scale=48, crop_ratio_range=(0.8, 1.0), backend='pillow',
         interpolation='bicubic'),
    dict(type='eva_mm.TokenizeCaption', context_length=16),
    dict(type='PackInputs', algorithm_keys=['text']),
]
val_pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
train_dataloader = dict(
    batch_size=32, num_workers=0, drop_last=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='eva_mm.CaptionedImageDataset', data_root=data_root,
                 ann_file='train.json', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=120, num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='eva_mm.CaptionedImageDataset', data_root=data_root, ann_file='val.json',
                 with_caption=False, with_label=True, pipeline=val_pipeline))
val_evaluator = dict(type='eva_mm.ZeroShotAccuracy',
                     templates=['a photo of a {}.', 'a {}.', 'an image of a {}.'], topk=(1, 5))
test_dataloader = val_dataloader
test_evaluator = val_evaluator

max_iters = 300
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.05))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=30),
    dict(type='CosineAnnealingLR', T_max=max_iters - 30, eta_min=1e-5, by_epoch=False,
         begin=30, end=max_iters)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=150)
val_cfg = dict()
test_cfg = dict()
# eva_mm.RNGStateHook: random states saved in checkpoints and restored on resume, so a resumed
# run draws the same drop-path / dropout masks as an uninterrupted one.
custom_hooks = [dict(type='eva_mm.RNGStateHook'), dict(type='eva_mm.CheckPretrainedWeightsHook'),
                dict(type='eva_mm.ZeroShotClassifierHook'),
                dict(type='eva_mm.ValidateBeforeTrainHook')]
default_hooks = dict(logger=dict(interval=10, log_metric_by_epoch=False),
                     checkpoint=dict(by_epoch=False, interval=max_iters, max_keep_ckpts=1))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
