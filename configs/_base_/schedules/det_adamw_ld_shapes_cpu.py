# Schedule of the CPU shapes detectors: the paper runtime (det_eva01_runtime.py: hooks, layer
# decay 0.9, ...) with fp32 AdamW on CPU (mmengine's AMP wrapper needs an accelerator), a short
# warm-up + cosine schedule, gloo for 2-process CPU runs, and logs / checkpoints for 600 its.
_base_ = ['./det_eva01_runtime.py']
max_iters = 600
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=50, end=max_iters, eta_min=1e-5),
]
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    constructor='eva_mm.LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.9),
    optimizer=dict(type='AdamW', lr=4e-4, betas=(0.9, 0.999), weight_decay=0.05),
    clip_grad=dict(max_norm=10.0))
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=200, max_keep_ckpts=2))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
log_processor = dict(window_size=10)
randomness = dict(seed=0)
