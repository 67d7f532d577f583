# EVA-g image classifier (SPEC §1, §3): mmpretrain ImageClassifier + eva_mm.EVAViT + a plain
# linear head on the mean of the patch tokens (official fine-tuned checkpoints: fc_norm + head,
# no final norm). Also carries the shared mmpretrain runtime (scope, hooks, env, visualizer),
# so a leaf config is model + dataset + schedule.
# Hyper-parameters marked [EVA] come from the official EVA-01 fine-tuning commands
# (baaivision/EVA, EVA-01/eva/README.md and datasets.py).
custom_imports = dict(imports=['eva_mm'], allow_failed_imports=False)
default_scope = 'mmpretrain'

num_classes = 1000
# [EVA] inputs normalised with the OpenAI CLIP mean/std (datasets.py build_transform)
data_preprocessor = dict(
    type='ClsDataPreprocessor',
    num_classes=num_classes,
    mean=[0.48145466 * 255, 0.4578275 * 255, 0.40821073 * 255],
    std=[0.26862954 * 255, 0.26130258 * 255, 0.27577711 * 255],
    to_rgb=True)
model = dict(
    type='ImageClassifier',
    backbone=dict(
        type='eva_mm.EVAViT',
        arch='eva-g',
        img_size=224,
        patch_size=14,
        out_type='avg_featmap',  # mean patch token + fc_norm (use_mean_pooling)
        final_norm=False,
        drop_path_rate=0.4,  # [EVA] dpr=0.4 (IN-21K and IN-1K)
        with_cp=True),  # [EVA] --use_checkpoint; leaves add init_cfg=Pretrained
    neck=None,
    head=dict(
        type='LinearClsHead',
        num_classes=num_classes,
        in_channels=1408,
        loss=dict(type='LabelSmoothLoss', label_smooth_val=0.1, mode='original'),
        # [EVA] BEiT-style head init: trunc_normal(0.02) scaled by init_scale=0.001
        init_cfg=dict(type='TruncNormal', layer='Linear', std=2e-5),
        topk=(1, 5)),
    data_preprocessor=data_preprocessor)

# ---- runtime --------------------------------------------------------------------------------
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=100),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='VisualizationHook', enable=False))
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='nccl'))
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='UniversalVisualizer', vis_backends=vis_backends)
log_level = 'INFO'
load_from = None
resume = False
# pretrained weights (eva_mm.CheckPretrainedWeightsHook in the schedules' custom_hooks):
# training refuses to start while the file is missing, or the key is None without
# allow_random_init=True (then a warning says the backbone starts random). Leaves that start
# from another checkpoint re-describe the key. {config key: where to get the file}
pretrained_weights = {
    'model.backbone.init_cfg':
    'EVA-01 MIM eva_psz14.pt: https://huggingface.co/BAAI/EVA/resolve/main/eva_psz14.pt'}
allow_random_init = False
randomness = dict(seed=0, diff_rank_seed=True)
