# A tiny EVA video model on the synthetic moving-shapes set (tools/data/make_moving_shapes.py):
# 4 classes = direction of motion, no single frame tells them apart (chance 25%). The official
# video architecture, only smaller: per-frame patches (tubelet 1) and one joint space-time
# position table, so frames meet only in the attention. Results (and what it does not learn)
# in docs/video.md. Trains on CPU in a few minutes. No Flip: a flip would swap left/right.
custom_imports = dict(imports=['eva_mm'], allow_failed_imports=False)
default_scope = 'mmaction'

num_frames = 8
model = dict(
    type='Recognizer3D',
    backbone=dict(
        type='eva_mm.EVAViT3D',
        arch=dict(embed_dims=64, num_layers=4, num_heads=4, feedforward_channels=128),
        img_size=32,
        patch_size=8,
        num_frames=num_frames,
        tubelet_size=1,
        out_type='avg_featmap',
        final_norm=False,
        drop_path_rate=0.0),
    cls_head=dict(type='eva_mm.EVAVideoHead', num_classes=4, in_channels=64, dropout_ratio=0.0,
                  init_std=0.02, average_clips='prob'),
    data_preprocessor=dict(type='ActionDataPreprocessor', mean=[127.5] * 3, std=[64.0] * 3,
                           format_shape='NCTHW'))

dataset_type = 'VideoDataset'
data_root = 'data/moving_shapes'
train_pipeline = [
    dict(type='eva_mm.CheckedDecordInit'),
    dict(type='SampleFrames', clip_len=num_frames, frame_interval=1, num_clips=1),
    dict(type='eva_mm.CheckedDecordDecode'),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
val_pipeline = [
    dict(type='eva_mm.CheckedDecordInit'),
    dict(type='SampleFrames', clip_len=num_frames, frame_interval=1, num_clips=1,
         test_mode=True),
    dict(type='eva_mm.CheckedDecordDecode'),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
test_pipeline = [  # multi-view test as the Kinetics configs: 2 clips x 3 crops
    dict(type='eva_mm.CheckedDecordInit'),
    dict(type='SampleFrames', clip_len=num_frames, frame_interval=1, num_clips=2,
         test_mode=True),
    dict(type='eva_mm.CheckedDecordDecode'),
    dict(type='ThreeCrop', crop_size=32),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
train_dataloader = dict(
    batch_size=16,
    num_workers=2,
    # False: an epoch-based loop resumed at epoch k restarts the workers, so only workers
    # restarted every epoch repeat an uninterrupted run exactly (eva_mm.RNGStateHook)
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, ann_file=f'{data_root}/train_list.txt',
                 data_prefix=dict(video=data_root), pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, ann_file=f'{data_root}/val_list.txt',
                 data_prefix=dict(video=data_root), pipeline=val_pipeline, test_mode=True))
test_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, ann_file=f'{data_root}/val_list.txt',
                 data_prefix=dict(video=data_root), pipeline=test_pipeline, test_mode=True))
val_evaluator = dict(type='AccMetric')
test_evaluator = val_evaluator

max_epochs = 12
optim_wrapper = dict(
    type='OptimWrapper',
    constructor='eva_mm.LayerDecayOptimWrapperConstructor',
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.05),
    paramwise_cfg=dict(layer_decay_rate=0.9,
                       no_decay_names=['pos_embed', 'cls_token', 'mask_token']),
    clip_grad=dict(max_norm=5.0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=True, begin=0, end=1,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', T_max=max_epochs - 1, eta_min=1e-5, by_epoch=True, begin=1,
         end=max_epochs, convert_to_iter_based=True)
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_begin=1,
                 val_interval=4)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

default_hooks = dict(
    runtime_info=dict(type='RuntimeInfoHook'),
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20, ignore_last=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=4, max_keep_ckpts=1),
    sampler_seed=dict(type='DistSamplerSeedHook'))
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='gloo'))
log_processor = dict(type='LogProcessor', window_size=20, by_epoch=True)
visualizer = dict(type='ActionVisualizer', vis_backends=[dict(type='LocalVisBackend')])
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0, deterministic=False)
# Trained from scratch on purpose (CPU demo): said explicitly here, and
# CheckPretrainedWeightsHook logs a warning at start that the model starts random.
allow_random_init = True
# eva_mm.RNGStateHook: random states saved in checkpoints and restored on resume, so a resumed
# run draws the same drop-path / dropout masks as an uninterrupted one.
custom_hooks = [dict(type='eva_mm.RNGStateHook'), dict(type='eva_mm.CheckPretrainedWeightsHook')]
