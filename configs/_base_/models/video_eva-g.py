# The official EVA-01 video model (EVA-01/video: models/clip_mae.py builds beit.py's
# VisionTransformer) as an mmaction2 Recognizer3D: EVA-g (SPEC §1: patch 14, 40 layers, 1408
# wide, MLP 6144, 16 heads), per-frame patches (Conv3d kernel (1, 14, 14)), ONE learned
# position table over cls + T*16*16 space-time tokens, joint attention over all of them
# (SPEC §3), mean of the patch tokens -> fc_norm -> linear head. Official outputs reproduced
# on the reference checkpoints: tests/test_video_official.py, docs/video.md.
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
        tubelet_size=1,  # per-frame patches (official PatchEmbed3D, tubelet 1)
        out_type='avg_featmap',  # official: mean of the T*h*w patch tokens (no cls) + fc_norm
        final_norm=False,  # official: norm = Identity with mean pooling
        drop_path_rate=0.3,  # official K722 yaml (0.2 for K400/600/700)
        with_cp=True,  # 40 blocks x 2049 tokens: activation checkpointing per block
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/eva_psz14.pt')),
    cls_head=dict(
        type='eva_mm.EVAVideoHead',  # TimeSformerHead (one Linear) + init from a video ckpt
        num_classes=400,
        in_channels=1408,
        dropout_ratio=0.0,  # official: no dropout before the head
        label_smooth_eps=0.1,  # official AUG.LABEL_SMOOTH (utils/config.py, *_ft.yaml)
        init_std=0.02,
        average_clips='prob'),  # multi-view test: mean of the softmax over clips x crops
    # the 12 test views of a video go through the backbone 4 at a time; mmaction2 allows this
    # only with one video per val/test batch (configs/_base_/datasets/video_kinetics400.py)
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
