# EVA-CLIP g (SPEC §3): 1.1B CLIP = EVA-g image tower (1.0B, initialised from the EVA MIM
# checkpoint) + the OpenAI CLIP-L text transformer (124M; 12 layers, 768 wide, 12 heads,
# context 77, QuickGELU), open_clip tokenizer, joint embedding 1024 (as open_clip's
# EVA01-g-14), learnable temperature (init 1/0.07, clamped at 100), contrastive loss over
# features gathered across processes (local loss, gather with grad). Tower sizes and the
# vision drop path 0.4 are the official EVA-01/clip/model_configs/EVA_CLIP_g_14.json.
# Also the shared runtime of eva_mm's EVA-CLIP configs.
custom_imports = dict(imports=['eva_mm'], allow_failed_imports=False)
default_scope = 'mmpretrain'

data_preprocessor = dict(
    type='ImgDataPreprocessor',
    mean=[0.48145466 * 255, 0.4578275 * 255, 0.40821073 * 255],
    std=[0.26862954 * 255, 0.26130258 * 255, 0.27577711 * 255],
    bgr_to_rgb=True)
model = dict(
    type='eva_mm.EVACLIP',
    vision=dict(
        type='eva_mm.EVAViT',
        arch='eva-g',
        img_size=224,
        patch_size=14,
        drop_path_rate=0.4,  # official EVA-01/clip/model_configs/EVA_CLIP_g_14.json
        with_cp=False,
        # the EVA MIM checkpoint: official eva_psz14.pt, or an eva_mm MIM run's
        # work_dirs/eva_mim_clip-l/eva_mim_student.pth (eva_mm.ExportStudentHook)
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/eva_psz14.pt')),
    embed_dim=1024,
    text_cfg=dict(context_length=77, vocab_size=49408, width=768, heads=12, layers=12),
    quick_gelu=True,
    # an open_clip state dict of OpenAI ViT-L-14 (text.* / token_embedding, transformer.*);
    # its 768x768 text projection does not fit the 1024-d joint space and stays at init
    text_checkpoint='checkpoints/openai_clip_vit-l-14.pth',
    data_preprocessor=data_preprocessor)

# ---- pretrained weights (eva_mm.CheckPretrainedWeightsHook) -------------------------------
# Training refuses to start while a file below is missing, or a key is None without
# allow_random_init=True (which then logs a warning that the part starts random).
# {config key: where to get the file}
pretrained_weights = {
    'model.vision.init_cfg':
    'EVA-01 MIM eva_psz14.pt: https://huggingface.co/BAAI/EVA/resolve/main/eva_psz14.pt '
    '(or an eva_mm MIM run\'s work_dirs/eva_mim_clip-l/eva_mim_student.pth)',
    'model.text_checkpoint':
    'OpenAI CLIP-L/14 as an open_clip state dict: python -c "import open_clip, torch; '
    'torch.save(open_clip.create_model(\'ViT-L-14-quickgelu\', pretrained=\'openai\')'
    '.state_dict(), \'checkpoints/openai_clip_vit-l-14.pth\')" (the MIM teacher\'s file)',
}
allow_random_init = False

# ---- runtime ------------------------------------------------------------------------------
# eva_mm.RNGStateHook: random states saved in checkpoints and restored on resume, so a resumed
# run draws the same drop-path / dropout masks as an uninterrupted one.
custom_hooks = [dict(type='eva_mm.RNGStateHook'), dict(type='eva_mm.CheckPretrainedWeightsHook'),
                dict(type='eva_mm.ZeroShotClassifierHook')]
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=100),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=5000, max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='VisualizationHook', enable=False))
env_cfg = dict(cudnn_benchmark=False, mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
               dist_cfg=dict(backend='nccl'))
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='UniversalVisualizer', vis_backends=vis_backends)
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0, diff_rank_seed=True)
