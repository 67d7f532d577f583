# EVA MIM pre-training model (SPEC §2): EVA-g student (patch 14, 224, [MASK] token, drop path
# 0.1) regressing the per-patch features of a frozen OpenAI CLIP-L/14 vision tower (after
# ln_post and proj, 768-d) on block-wise masked patches, negative cosine loss.
# Also the shared runtime of eva_mm's pre-training configs (mmpretrain scope: its transforms
# and datasets; the models are eva_mm's).
custom_imports = dict(imports=['eva_mm'], allow_failed_imports=False)
default_scope = 'mmpretrain'

# OpenAI CLIP mean/std for both networks (the teacher sees exactly what the student sees)
data_preprocessor = dict(
    type='ImgDataPreprocessor',
    mean=[0.48145466 * 255, 0.4578275 * 255, 0.40821073 * 255],
    std=[0.26862954 * 255, 0.26130258 * 255, 0.27577711 * 255],
    bgr_to_rgb=True)
model = dict(
    type='eva_mm.EVAMIM',
    backbone=dict(
        type='eva_mm.EVAViT',
        arch='eva-g',  # 40 layers, 1408 wide, MLP 6144, 16 heads
        img_size=224,
        patch_size=14,
        drop_path_rate=0.1,
        with_cp=False),  # True fits 24 GB GPUs (SPEC §2); see eva_mim_clip-l_deepspeed.py
    teacher=dict(
        type='eva_mm.OpenCLIPVisionTeacher',
        # OpenAI CLIP-L/14 (QuickGELU): an open_clip state dict of ViT-L-14-quickgelu 'openai'
        # (how to make it: pretrained_weights below)
        model_name='ViT-L-14-quickgelu',
        checkpoint='checkpoints/openai_clip_vit-l-14.pth'),
    data_preprocessor=data_preprocessor)

# ---- pretrained weights (eva_mm.CheckPretrainedWeightsHook) -------------------------------
# Training refuses to start while a file below is missing, or a key is None without
# allow_random_init=True (which then logs a warning that the part starts random).
# {config key: where to get the file}
openai_clip_l = ('OpenAI CLIP-L/14 as an open_clip state dict: python -c "import open_clip, '
                 'torch; torch.save(open_clip.create_model(\'ViT-L-14-quickgelu\', '
                 'pretrained=\'openai\').state_dict(), '
                 '\'checkpoints/openai_clip_vit-l-14.pth\')"')
pretrained_weights = {'model.teacher.checkpoint': openai_clip_l}
allow_random_init = False

# ---- runtime ------------------------------------------------------------------------------
# eva_mm.RNGStateHook: random states saved in checkpoints and restored on resume, so a resumed
# run draws the same drop-path / dropout masks as an uninterrupted one. ExportStudentHook: the
# student alone, as a plain state dict, for EVA-CLIP / downstream init_cfg.
custom_hooks = [dict(type='eva_mm.RNGStateHook'), dict(type='eva_mm.CheckPretrainedWeightsHook'),
                dict(type='eva_mm.ExportStudentHook', filename='eva_mim_student.pth')]
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=100),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='VisualizationHook', enable=False))
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='nccl'))  # eva_mm.compat falls back to gloo without CUDA
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='UniversalVisualizer', vis_backends=vis_backends)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0, diff_rank_seed=True)
