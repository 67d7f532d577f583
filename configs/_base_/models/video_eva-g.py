# EVA-g (SPEC §1: patch 14, 40 layers, 1408 wide, MLP 6144, 16 heads) as a video model:
# joint space-time attention over cls + T*16*16 tokens (SPEC §3), inside mmaction2's
# Recognizer3D with a linear head on the mean-pooled tokens.
custom_imports = dict(imports=['eva_mm'], allow_failed_imports=False)
default_scope = 'mmaction'

num_frames = 16
model = dict(
    type='Recognizer3D',
    backbone=dict(
        type='eva_mm.EVAViT3D',
        arch='eva-g',
        img_size=224,
        patch_size=14,
        num_frames=num_frames,
        tubelet_size=1,  # per-frame patches: "no video-specific architecture"
        out_type='avg_featmap',  # mean of all space-time tokens + fc_norm
        final_norm=False,
        drop_path_rate=0.3,  # not in SPEC (assumed, as EVA image fine-tuning of ViT-g)
        with_cp=True,  # 40 blocks x 2049 tokens: activation checkpointing per block
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/eva_psz14.pt')),
    cls_head=dict(
        type='TimeSformerHead',
        num_classes=400,
        in_channels=1408,
        dropout_ratio=0.5,
        init_std=0.02,
        average_clips='prob'),  # multi-view test: mean of the softmax over clips x crops
    # the 12 test views of a video (test batch 1) go through the backbone 4 at a time
    test_cfg=dict(max_testing_views=4),
    data_preprocessor=dict(
        type='ActionDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        format_shape='NCTHW'))
# pretrained weights (eva_mm.CheckPretrainedWeightsHook in the schedule's custom_hooks):
# training refuses to start while the file is missing, or the key is None without
# allow_random_init=True (then a warning says the backbone starts random). Leaves that start
# from another checkpoint re-describe the key. {config key: where to get the file}
pretrained_weights = {
    'model.backbone.init_cfg':
    'EVA-01 MIM eva_psz14.pt: https://huggingface.co/BAAI/EVA/resolve/main/eva_psz14.pt'}
allow_random_init = False
