# Tiny EVA + ViT-Adapter + Mask2Former on the built-in synthetic shapes set
# (tools/data/make_shapes_seg.py; 5 classes, 64x64 images). Trains on CPU in minutes;
# `bash tools/demo_seg.sh` runs generate + train + test + PNG overlays.
# Same model family as the paper configs, shrunk: a 4-block 96-wide EVA ViT (patch 8),
# 2 interaction stages, a 64-wide Mask2Former head with 4 decoder layers.
_base_ = ['../_base_/models/seg_eva-g_adapter_mask2former.py']

crop_size = (64, 64)
num_classes = 5
head_width = 64
data_root = 'data/shapes_seg'

model = dict(
    data_preprocessor=dict(size=crop_size, test_cfg=dict(size_divisor=32)),
    backbone=dict(
        vit=dict(_delete_=True,
                 arch=dict(embed_dims=96, num_layers=4, num_heads=3, feedforward_channels=384),
                 img_size=64, patch_size=8, drop_path_rate=0.0),
        num_stages=2,
        drop_path_rate=0.0,
        conv_inplane=16,
        deform_num_heads=3,
        num_extra_extractors=1,
        norm_cfg=dict(type='BN'),
        with_cp=False),
    decode_head=dict(
        in_channels=[96] * 4,
        feat_channels=head_width,
        out_channels=head_width,
        num_classes=num_classes,
        num_queries=16,
        pixel_decoder=dict(
            norm_cfg=dict(type='GN', num_groups=16),
            encoder=dict(
                num_layers=2,
                layer_cfg=dict(
                    self_attn_cfg=dict(embed_dims=head_width, num_heads=4),
                    ffn_cfg=dict(embed_dims=head_width, feedforward_channels=4 * head_width))),
            positional_encoding=dict(num_feats=head_width // 2)),
        positional_encoding=dict(num_feats=head_width // 2),
        transformer_decoder=dict(
            num_layers=4,
            layer_cfg=dict(
                self_attn_cfg=dict(embed_dims=head_width, num_heads=4),
                cross_attn_cfg=dict(embed_dims=head_width, num_heads=4),
                ffn_cfg=dict(embed_dims=head_width, feedforward_channels=4 * head_width))),
        loss_cls=dict(class_weight=[1.0] * num_classes + [0.1]),
        train_cfg=dict(num_points=1024)),
    test_cfg=dict(_delete_=True, mode='whole'))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='eva_mm.LoadSegAnnotations', reduce_zero_label=True),
    dict(type='eva_mm.CheckSegLabels', num_classes=num_classes),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='eva_mm.LoadSegAnnotations', reduce_zero_label=True),
    dict(type='eva_mm.CheckSegLabels', num_classes=num_classes),
    dict(type='PackSegInputs')
]
# `tools/test.py ... --tta`: 3 scales x flip, logits averaged by mmseg's SegTTAModel
tta_model = dict(type='SegTTAModel')
tta_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(
        type='TestTimeAug',
        transforms=[
            [dict(type='Resize', scale_factor=r, keep_ratio=True) for r in (0.75, 1.0, 1.25)],
            [dict(type='RandomFlip', prob=0., direction='horizontal'),
             dict(type='RandomFlip', prob=1., direction='horizontal')],
            [dict(type='eva_mm.LoadSegAnnotations', reduce_zero_label=True)],
            [dict(type='PackSegInputs')]
        ])
]
train_dataloader = dict(
    batch_size=8,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(type='eva_mm.ShapesSegDataset', data_root=data_root,
                 data_prefix=dict(img_path='images/training',
                                  seg_map_path='annotations/training'),
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=1,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type='eva_mm.ShapesSegDataset', data_root=data_root,
                 data_prefix=dict(img_path='images/validation',
                                  seg_map_path='annotations/validation'),
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator

max_iters = 200
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=5e-4, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='eva_mm.LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.9),
    clip_grad=dict(max_norm=1.0, norm_type=2))
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=50),
    dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=False, begin=50, end=max_iters)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=max_iters,
                    max_keep_ckpts=1),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
env_cfg = dict(cudnn_benchmark=False,
               mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='gloo'))
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='SegLocalVisualizer', vis_backends=vis_backends, name='visualizer',
                  alpha=0.6)
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)
# Trained from scratch on purpose (CPU demo): said explicitly here, and
# CheckPretrainedWeightsHook logs a warning at start that the ViT starts random.
allow_random_init = True
# eva_mm.RNGStateHook: random states saved in checkpoints and restored on resume, so a resumed
# run draws the same drop-path / dropout masks as an uninterrupted one.
custom_hooks = [dict(type='eva_mm.RNGStateHook'), dict(type='eva_mm.CheckPretrainedWeightsHook')]
