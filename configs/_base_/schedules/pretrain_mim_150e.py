# EVA MIM schedule (SPEC §2; [EVA] = official EVA-01 pre-training command, EVA-01/eva/README):
# AdamW peak lr 1e-3, betas (0.9, 0.98), eps 1e-6 [EVA], weight decay 0.05, 2 warm-up epochs
# [EVA] then cosine, 150 epochs, batch 4096, gradient clipping 3.0 [EVA], fp16 with dynamic
# loss scaling. warmup_lr 1e-6 / min_lr 1e-5 are the BEiT-style script defaults (not in SPEC).
max_epochs = 150
warmup_epochs = 2
base_lr = 1e-3
optim_wrapper = dict(
    type='AmpOptimWrapper',
    dtype='float16',
    loss_scale='dynamic',
    optimizer=dict(type='AdamW', lr=base_lr, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.05),
    clip_grad=dict(max_norm=3.0),
    paramwise_cfg=dict(
        norm_decay_mult=0.0, bias_decay_mult=0.0,
        custom_keys={'pos_embed': dict(decay_mult=0.0), 'cls_token': dict(decay_mult=0.0),
                     'mask_token': dict(decay_mult=0.0), 'q_bias': dict(decay_mult=0.0),
                     'v_bias': dict(decay_mult=0.0)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6 / base_lr, by_epoch=True, begin=0,
         end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs, eta_min=1e-5,
         by_epoch=True, begin=warmup_epochs, end=max_epochs, convert_to_iter_based=True)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs)
auto_scale_lr = dict(enable=False, base_batch_size=4096)
