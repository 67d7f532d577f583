# Video fine-tuning schedule + runtime = the official EVA-01 K722 intermediate fine-tune
# (EVA-01/video/configs/kinetics722_intermediate_ft.yaml + defaults of utils/config.py,
# utils/optimizer.py build_optimizer / build_scheduler; /work/shared/RECIPES.md "Video"):
# AdamW lr 8e-6, betas (0.9, 0.98), eps 1e-6, weight decay 0.05 (none on 1-D parameters,
# biases, pos_embed, cls_token), no layer-wise lr decay (rate 1.0), 40 epochs, 5 warm-up epochs
# linear from 0, then cosine to lr / 100 (per iteration, as timm's CosineLRScheduler), fp16 AMP
# with dynamic loss scaling (official apex O1), no gradient clipping.
# K400/600/700 (eva_k400.py) override: constant lr 1e-6, layer decay 0.95, 1-2 epochs.
max_epochs = 40
warmup_epochs = 5
optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    constructor='eva_mm.LayerDecayOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=8e-6, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.05),
    paramwise_cfg=dict(
        layer_decay_rate=1.0,  # official LAYER_WISE_DECAY: 1.0 = none
        no_decay_names=['pos_embed', 'cls_token', 'mask_token']),
    clip_grad=None)  # the official runs clip no gradient
param_scheduler = [
    # warm-up from 0: mmengine's LinearLR cannot start at exactly 0 (its chained form divides by
    # the start factor), 1e-8 x lr is 0 to the official schedule's precision
    dict(type='LinearLR', start_factor=1e-8, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs, eta_min_ratio=0.01,
         by_epoch=True, begin=warmup_epochs, end=max_epochs, convert_to_iter_based=True)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_begin=1, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# the official K722 launch: 16 nodes x 8 GPUs x batch 2 = total batch 256 (EVA-01/video
# README, kinetics722_intermediate_ft.yaml BATCH_SIZE 2, ACCUMULATION_STEPS 1). Another launch
# keeps lr 8e-6 unless run with tools/train.py --auto-scale-lr (lr x total / 256).
auto_scale_lr = dict(enable=False, base_batch_size=256)

default_hooks = dict(
    runtime_info=dict(type='RuntimeInfoHook'),
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20, ignore_last=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3, save_best='auto'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    sync_buffers=dict(type='SyncBuffersHook'))
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='nccl'))
log_processor = dict(type='LogProcessor', window_size=20, by_epoch=True)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='ActionVisualizer', vis_backends=vis_backends)
log_level = 'INFO'
load_from = None
resume = False
# eva_mm.RNGStateHook: random states saved in checkpoints and restored on resume, so a resumed
# run draws the same drop-path / dropout masks as an uninterrupted one.
# eva_mm.ConvertCheckpointHook: load_from / tools/test.py also read the released
# eva_video_k*.pth (converted to this model's keys on load).
custom_hooks = [dict(type='eva_mm.RNGStateHook'), dict(type='eva_mm.CheckPretrainedWeightsHook'),
                dict(type='eva_mm.ConvertCheckpointHook')]
