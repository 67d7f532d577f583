# EVA-g + ViT-Adapter + Mask2Former (mmseg 1.x), the paper's weakened head (SPEC §3):
# no relative position bias, 8 transformer decoder layers instead of 9, head width 1024
# (~0.6 x the encoder's 1408), as the official EVA-01 configs of the released segmenters
# (EVA-01/seg/configs/coco_stuff164k/eva_mask2former_896_60k_cocostuff164k_ss.py,
# EVA-01/seg/configs/ade20k/eva_mask2former_896_20k_coco164k2ade20k_{ss,ms}.py).
# The backbone runs at patch 16 on 896 crops: the EVA checkpoint's 14x14 patch kernel and
# 16x16 position grid are resized on load (eva_psz14to16 equivalent).
custom_imports = dict(imports=['eva_mm', 'mmdet.models'], allow_failed_imports=False)
default_scope = 'mmseg'

crop_size = (896, 896)
num_classes = 150
eva_checkpoint = 'checkpoints/eva_psz14.pt'  # official EVA-01 MIM weights (SPEC §4)
# pretrained weights (eva_mm.CheckPretrainedWeightsHook in the schedule's custom_hooks):
# training refuses to start while the file is missing, or the key is None without
# allow_random_init=True (then a warning says the ViT starts random).
# {config key: where to get the file}
pretrained_weights = {
    'model.backbone.vit.init_cfg':
    'EVA-01 MIM eva_psz14.pt: https://huggingface.co/BAAI/EVA/resolve/main/eva_psz14.pt'}
allow_random_init = False
vit_width = 1408
head_width = 1024  # ~0.6 x vit_width
norm_cfg = dict(type='SyncBN', requires_grad=True)

data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=crop_size,
    test_cfg=dict(size_divisor=32))

model = dict(
    # mmseg's EncoderDecoder that also crops eva_mm.PadShortSide's pad off the prediction
    # (the official EncoderDecoderMask2FormerAug); otherwise identical
    type='eva_mm.EncoderDecoder',
    data_preprocessor=data_preprocessor,
    backbone=dict(
        type='eva_mm.EVAAdapter',
        vit=dict(
            arch='eva-g',
            img_size=896,
            patch_size=16,
            use_rel_pos=False,  # weakened: no relative position bias
            with_cls_token=True,
            drop_path_rate=0.5,
            with_cp=True,
            init_cfg=dict(type='Pretrained', checkpoint=eva_checkpoint)),
        num_stages=4,  # blocks split evenly: [0-9], [10-19], [20-29], [30-39]
        conv_inplane=64,
        deform_num_heads=16,
        num_points=4,
        deform_ratio=0.5,
        cffn_ratio=0.25,
        init_values=0.,
        drop_path_rate=0.5,  # extractor conv-FFNs, as ViT-Adapter passes the ViT's rate
        num_extra_extractors=2,
        add_vit_feature=True,
        cls_pos_embed=False,  # as the official adapter: no position embedding on the cls token
        norm_cfg=norm_cfg,
        with_cp=True),
    decode_head=dict(
        # mmseg's Mask2FormerHead; predict() forms the class map at stride 4 and then resizes
        # it, as the official EVA-01 segmenter (eva_mm/seg/mask2former.py)
        type='eva_mm.Mask2FormerHead',
        in_channels=[vit_width] * 4,
        strides=[4, 8, 16, 32],
        feat_channels=head_width,
        out_channels=head_width,
        num_classes=num_classes,
        num_queries=200,
        num_transformer_feat_level=3,
        align_corners=False,
        pixel_decoder=dict(
            type='mmdet.MSDeformAttnPixelDecoder',
            num_outs=3,
            norm_cfg=dict(type='GN', num_groups=32),
            act_cfg=dict(type='ReLU'),
            encoder=dict(
                num_layers=6,
                layer_cfg=dict(
                    self_attn_cfg=dict(embed_dims=head_width, num_heads=32, num_levels=3,
                                       num_points=4, im2col_step=64, dropout=0.0,
                                       batch_first=True, norm_cfg=None, init_cfg=None),
                    ffn_cfg=dict(embed_dims=head_width, feedforward_channels=4 * head_width,
                                 num_fcs=2, ffn_drop=0.0,
                                 act_cfg=dict(type='ReLU', inplace=True))),
                init_cfg=None),
            positional_encoding=dict(num_feats=head_width // 2, normalize=True),
            init_cfg=None),
        enforce_decoder_input_project=False,
        positional_encoding=dict(num_feats=head_width // 2, normalize=True),
        transformer_decoder=dict(
            return_intermediate=True,
            num_layers=8,  # weakened: 8 instead of 9
            layer_cfg=dict(
                self_attn_cfg=dict(embed_dims=head_width, num_heads=32, attn_drop=0.0,
                                   proj_drop=0.0, dropout_layer=None, batch_first=True),
                cross_attn_cfg=dict(embed_dims=head_width, num_heads=32, attn_drop=0.0,
                                    proj_drop=0.0, dropout_layer=None, batch_first=True),
                ffn_cfg=dict(embed_dims=head_width, feedforward_channels=4 * head_width,
                             num_fcs=2, act_cfg=dict(type='ReLU', inplace=True),
                             ffn_drop=0.0, dropout_layer=None, add_identity=True)),
            init_cfg=None),
        loss_cls=dict(type='mmdet.CrossEntropyLoss', use_sigmoid=False, loss_weight=2.0,
                      reduction='mean', class_weight=[1.0] * num_classes + [0.1]),
        loss_mask=dict(type='mmdet.CrossEntropyLoss', use_sigmoid=True, reduction='mean',
                       loss_weight=5.0),
        loss_dice=dict(type='mmdet.DiceLoss', use_sigmoid=True, activate=True,
                       reduction='mean', naive_dice=True, eps=1.0, loss_weight=5.0),
        train_cfg=dict(
            num_points=12544,
            oversample_ratio=3.0,
            importance_sample_ratio=0.75,
            assigner=dict(
                type='mmdet.HungarianAssigner',
                match_costs=[
                    dict(type='mmdet.ClassificationCost', weight=2.0),
                    dict(type='mmdet.CrossEntropyLossCost', weight=5.0, use_sigmoid=True),
                    dict(type='mmdet.DiceCost', weight=5.0, pred_act=True, eps=1.0)
                ]),
            sampler=dict(type='mmdet.MaskPseudoSampler'))),
    train_cfg=dict(),
    test_cfg=dict(mode='slide', crop_size=crop_size, stride=(512, 512)))
