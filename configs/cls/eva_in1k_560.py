# EVA-g fine-tune on ImageNet-1K at 560 from the IN-21K model (89.7 top-1): 15 epochs, as the
# official EVA-01 run (EVA-01/eva/README.md: IN-1K fine-tuning command "ep=10   # or 15" and
# the model card of eva_21k_1k_560px_psz14_ema_89p7.pt; log
# EVA-01/logs/cls/ft_1k_cls_sz560_89p7.txt: epochs 0..14, 2 warm-up epochs, cosine to 0);
# everything else as the 336 run (eva_in1k_336.py): same launch, total batch 512 = 32
# processes x 16 images (tools/dist_train.sh CONFIG 32), no gradient into the patch embedding.
_base_ = ['./eva_in1k_336.py']
img_size = 560
max_epochs = 15
warmup_epochs = 2
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs, eta_min=0., by_epoch=True,
         begin=warmup_epochs, end=max_epochs, convert_to_iter_based=True)
]
train_cfg = dict(max_epochs=max_epochs)
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
