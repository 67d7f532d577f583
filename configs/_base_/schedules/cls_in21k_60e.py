# EVA IN-21K intermediate fine-tune schedule (SPEC §3: 60 epochs at 224).
# [EVA] AdamW lr 1e-4 (absolute, batch 4096; BEiT-style code does not rescale it), betas
# (0.9, 0.98), eps 1e-6, weight decay 0.05, layer decay 0.85, 15 warm-up epochs from
# warmup_lr 1e-6, cosine to min_lr 1e-6 (per group, scaled by the layer-decay factor, as the
# official scheduler multiplies every group's lr by its lr_scale), no gradient clipping.
max_epochs = 60
warmup_epochs = 15
base_lr = 1e-4
optim_wrapper = dict(
    type='OptimWrapper',
    constructor='eva_mm.LayerDecayOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=base_lr, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.05),
    paramwise_cfg=dict(layer_decay_rate=0.85))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6 / base_lr, by_epoch=True, begin=0,
         end=warmup_epochs, convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs, eta_min_ratio=1e-6 / base_lr,
         by_epoch=True, begin=warmup_epochs, end=max_epochs, convert_to_iter_based=True)
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs)
val_cfg = None  # [EVA] no evaluation during the intermediate fine-tune
test_cfg = None
auto_scale_lr = dict(enable=False, base_batch_size=4096)
# eva_mm.RNGStateHook: random states saved in checkpoints and restored on resume, so a resumed
# run draws the same drop-path / dropout masks as an uninterrupted one.
# eva_mm.ConvertCheckpointHook: a released EVA-01 classifier (fc_norm + head) given to
# tools/test.py or as load_from is converted on load, head included.
custom_hooks = [dict(type='eva_mm.RNGStateHook'), dict(type='eva_mm.CheckPretrainedWeightsHook'),
                dict(type='eva_mm.ConvertCheckpointHook')]
