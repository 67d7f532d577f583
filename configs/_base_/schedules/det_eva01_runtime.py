# Optimiser + runtime shared by the EVA-01 detection runs (RECIPES.md "Detection"; official
# EVA-01/det/projects/ViTDet/configs/{COCO,LVIS}/cascade_mask_rcnn_vitdet_eva.py and the
# Objects365 config in EVA-02/det of github baaivision/EVA): AdamW (0.9, 0.999), weight decay
# 0.1 on EVERY parameter (norms, biases, position tables too: decay_all), layer-wise lr decay
# 0.9, fp16 AMP with dynamic loss scaling, iteration based. The leaves set the lr, the length,
# the warm-up and the lr steps of their run, and the total batch their launch assumes.
default_scope = 'mmdet'
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='AmpOptimWrapper',
    dtype='float16',
    loss_scale='dynamic',
    constructor='eva_mm.LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.9, decay_all=True),
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.1))

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=5000, max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='DetVisualizationHook'))
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='nccl'))
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='DetLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
# eva_mm.RNGStateHook: random states saved in checkpoints and restored on resume, so a resumed
# run draws the same drop-path / dropout masks as an uninterrupted one.
# eva_mm.ConvertCheckpointHook: a released detectron2 EVA-01 detector given as load_from (or to
# tools/test.py) is converted on the fly by the converter CLI's code path.
# eva_mm.CheckPretrainedWeightsHook: training refuses to start without the weights the config
# declares in pretrained_weights (see the model configs).
custom_hooks = [dict(type='eva_mm.RNGStateHook'), dict(type='eva_mm.CheckPretrainedWeightsHook'),
                dict(type='eva_mm.ConvertCheckpointHook')]

# auto_scale_lr: off; `tools/train.py --auto-scale-lr` scales the lr linearly when the launch's
# total batch differs from base_batch_size
# (64: the COCO / LVIS runs; the Objects365 config sets 128)
auto_scale_lr = dict(enable=False, base_batch_size=64)
