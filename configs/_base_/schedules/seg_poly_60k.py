# Runtime + schedule of the official EVA-01 COCO-Stuff-164K run
# (EVA-01/seg/configs/coco_stuff164k/eva_mask2former_896_60k_cocostuff164k_ss.py, log
# EVA-01/logs/sem_seg/ft_cocstuff164k_sem_seg_ss_53p4_training_log.txt): AdamW lr 1.5e-5,
# betas (0.9, 0.999), weight decay 0.05, layer decay 0.95 over the 40 EVA blocks
# (eva_mm.LayerDecayOptimWrapperConstructor, EVA-01/seg/mmcv_custom/
# layer_decay_optimizer_constructor.py: patch embedding, cls token, position embedding and
# Mask2Former's query_embed / query_feat / level_embed / cls_embed / mask_embed at layer 0,
# i.e. lr x 0.95^41; block i at lr x 0.95^(40 - i); adapter and the rest of the head at the
# full lr; weight decay on every parameter except 1-D ones and biases), linear warm-up 1500
# iterations from lr x 1e-6, then poly (power 1) to 0 at 60k iterations.
# Launch: total batch 32 = 32 processes x 1 image (tools/dist_train.sh CONFIG 32);
# auto_scale_lr is off: `tools/train.py --auto-scale-lr` scales the lr linearly when a launch's
# total batch differs from base_batch_size.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1.5e-5, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='eva_mm.LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(
        layer_decay_rate=0.95,
        # the official constructor exempts 1-D parameters and biases only (its pos_embed /
        # cls_token check compares bare names with full ones and never matches)
        no_decay_names=[],
        layer0_names=['decode_head.query_embed', 'decode_head.query_feat',
                      'decode_head.level_embed', 'decode_head.cls_embed',
                      'decode_head.mask_embed']))
max_iters = 60000
warmup_iters = 1500
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-6, by_epoch=False, begin=0, end=warmup_iters),
    dict(type='PolyLR', power=1.0, eta_min=0.0, by_epoch=False, begin=warmup_iters,
         end=max_iters)
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=4000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=4000, max_keep_ckpts=3,
                    save_best='mIoU'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
env_cfg = dict(
    cudnn_benchmark=True,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'))
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='SegLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
auto_scale_lr = dict(enable=False, base_batch_size=32)
# eva_mm.RNGStateHook: random states saved in checkpoints and restored on resume, so a resumed
# run draws the same drop-path / dropout masks as an uninterrupted one.
# eva_mm.ConvertCheckpointHook: a released segmenter in the official layout given as load_from
# (or to tools/test.py) converts on load.
custom_hooks = [dict(type='eva_mm.RNGStateHook'), dict(type='eva_mm.CheckPretrainedWeightsHook'),
                dict(type='eva_mm.ConvertCheckpointHook')]
