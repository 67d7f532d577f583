# EVA IN-1K fine-tune schedule (SPEC §3: 10 epochs from the IN-21K model, at 336 or 560).
# [EVA] AdamW lr 3e-5 (absolute, batch 512), default betas (0.9, 0.999) / eps 1e-8, weight
# decay 0.05, layer decay 0.95, 2 warm-up epochs from warmup_lr 0 (mmengine's LinearLR needs a
# positive start factor: 1e-4), cosine to min_lr 0, label smoothing 0.3 (set in the leaf's
# head), EMA of the weights (--model_ema, BEiT default decay 0.9999) used for evaluation.
max_epochs = 10
warmup_epochs = 2
base_lr = 3e-5
optim_wrapper = dict(
    type='OptimWrapper',
    constructor='eva_mm.LayerDecayOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=base_lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.05),
    paramwise_cfg=dict(layer_decay_rate=0.95))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-4, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs, eta_min=0., by_epoch=True,
         begin=warmup_epochs, end=max_epochs, convert_to_iter_based=True)
]
train_cfg = dict(by_epoch=True, max_epochs=max_epochs, val_interval=1)
val_cfg = dict()
test_cfg = dict()
# mmengine EMA: ema = (1 - momentum) * ema + momentum * param, so momentum = 1 - 0.9999
# eva_mm.RNGStateHook: random states saved in checkpoints and restored on resume, so a resumed
# run draws the same drop-path / dropout masks as an uninterrupted one.
# eva_mm.ConvertCheckpointHook: a released EVA-01 classifier (fc_norm + head) given to
# tools/test.py or as load_from is converted on load, head included.
custom_hooks = [dict(type='eva_mm.RNGStateHook'), dict(type='eva_mm.CheckPretrainedWeightsHook'),
                dict(type='eva_mm.ConvertCheckpointHook'),
                dict(type='EMAHook', momentum=1e-4, priority='ABOVE_NORMAL')]
auto_scale_lr = dict(enable=False, base_batch_size=512)
