# Schedule of the official EVA-01 ADE20K run
# (EVA-01/seg/configs/ade20k/eva_mask2former_896_20k_coco164k2ade20k_ss.py, log
# EVA-01/logs/sem_seg/ft_ade20k_sem_seg_ms_62p3_training_log.txt): from the COCO-Stuff
# segmenter, AdamW lr 2.5e-5, layer decay 0.95, linear warm-up 500 iterations from
# lr x 1e-6, poly (power 1) to 0 at 20k iterations; otherwise as seg_poly_60k.py.
# Launch: total batch 64 = 64 processes x 1 image (tools/dist_train.sh CONFIG 64; the log
# shows gpu_ids = range(0, 64), samples_per_gpu = 1).
_base_ = ['./seg_poly_60k.py']
optim_wrapper = dict(optimizer=dict(lr=2.5e-5))
max_iters = 20000
warmup_iters = 500
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=warmup_iters),
    dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=False, begin=warmup_iters,
         end=max_iters)
]
train_cfg = dict(max_iters=max_iters, val_interval=2000)
default_hooks = dict(checkpoint=dict(interval=2000))
auto_scale_lr = dict(base_batch_size=64)
