# Video fine-tuning schedule + runtime: AdamW with layer-wise lr decay (the usual ViT
# fine-tune recipe, SPEC §3), fp16 AMP with dynamic loss scaling, linear warm-up + cosine.
# lr / decay rate / weight decay / warm-up are not in SPEC (assumed, EVA image fine-tune style).
max_epochs = 40
warmup_epochs = 5
optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    constructor='eva_mm.LayerDecayOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=5e-5, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(
        layer_decay_rate=0.9,
        no_decay_names=['pos_embed', 'cls_token', 'mask_token']),
    clip_grad=dict(max_norm=5.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=warmup_epochs,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - warmup_epochs, eta_min=1e-6,
         by_epoch=True, begin=warmup_epochs, end=max_epochs, convert_to_iter_based=True)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_begin=1, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
# batch 2 per GPU x 64 GPUs (assumed); scale lr linearly with --auto-scale-lr
auto_scale_lr = dict(enable=False, base_batch_size=128)

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
