# The EVA COCO-Stuff-164K schedule: 60k iterations, total batch 32 (32 GPUs x 1), lr 1.5e-5,
# layer decay 0.95; otherwise as seg_poly_40k.
_base_ = ['./seg_poly_40k.py']
optim_wrapper = dict(optimizer=dict(lr=1.5e-5), paramwise_cfg=dict(layer_decay_rate=0.95))
max_iters = 60000
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=False, begin=1500, end=max_iters)
]
train_cfg = dict(max_iters=max_iters)
auto_scale_lr = dict(base_batch_size=32)
