# A CPU-sized EVA Cascade Mask R-CNN for the synthetic shapes data: the same structure as
# det_eva_cmrcnn.py (EVAViT with interleaved window/global attention -> SimpleFPN -> 3-stage
# cascade with LayerNorm conv+fc box heads and a LayerNorm mask head), slimmed for a CPU: a
# 6-block, 128-wide EVAViT at patch 16 (an 8x8 map for 128px images, window 4), 32-channel
# pyramid and heads, 32 RoIs per image and stage.
_base_ = ['./det_eva_cmrcnn.py']
backbone_depth = 6
backbone_width = 128
global_attn_blocks = list(range(1, backbone_depth, 2))  # 1, 3, 5
window_attn_blocks = [i for i in range(backbone_depth) if i not in global_attn_blocks]
ch = 32
strides = [4, 8, 16, 32, 64]
num_classes = 3


def _slim_stage(h):
    return dict(h, in_channels=ch, conv_out_channels=ch, fc_out_channels=128,
                num_classes=num_classes)


square_size = 128
model = dict(
    data_preprocessor=dict(pad_size_divisor=square_size),
    backbone=dict(
        arch=dict(_delete_=True, embed_dims=backbone_width, num_layers=backbone_depth,
                  num_heads=4,
                  feedforward_channels=4 * backbone_width),
        img_size=128, rel_pos_img_size=square_size, patch_size=16, drop_path_rate=0.0,
        window_size=4, window_block_indexes=window_attn_blocks, with_cp=False,
        freeze_patch_embed=False,  # trained from scratch: the patch embedding must learn
        init_cfg=None),
    neck=dict(backbone_channel=backbone_width,
              in_channels=[backbone_width // 4, backbone_width // 2, backbone_width,
                           backbone_width],
              out_channels=ch),
    rpn_head=dict(in_channels=ch, feat_channels=ch, num_convs=1,
                  anchor_generator=dict(scales=[8], strides=strides)),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=ch, featmap_strides=strides[:4]),
        bbox_head=[_slim_stage(h) for h in _base_.model.roi_head.bbox_head],
        mask_roi_extractor=dict(out_channels=ch, featmap_strides=strides[:4]),
        mask_head=dict(num_convs=2, in_channels=ch, conv_out_channels=ch,
                       num_classes=num_classes)),
    train_cfg=dict(
        rpn=dict(sampler=dict(num=64)),
        rpn_proposal=dict(nms_pre=500, max_per_img=100),
        rcnn=[dict(r, sampler=dict(r['sampler'], num=32))
              for r in _base_.model.train_cfg.rcnn]),
    test_cfg=dict(rpn=dict(nms_pre=500, max_per_img=100)))
allow_random_init = True  # the CPU demos train from scratch on purpose
