# EVA-g Cascade Mask R-CNN as the official EVA-01 detector builds it (RECIPES.md "Detection";
# EVA-01/det/projects/ViTDet/configs/COCO/cascade_mask_rcnn_vitdet_eva.py and
# configs/common/models/mask_rcnn_vitdet.py of github baaivision/EVA), so the released
# detectron2 checkpoints convert key for key (eva_mm/det/convert.py) and compute the same:
# - backbone at patch 16 (the 14->16 converted EVA weights); the absolute position table keeps
#   the 14x14 pre-training grid (img_size=224) and is resized bicubically per input; decomposed
#   relative position bias in EVERY block: window blocks (16x16) learn 31-row tables, global
#   blocks 3, 7, ..., 39 tables for the training size (rel_pos_img_size: 1280 -> 159 rows);
#   frozen patch embedding; no cls token; LayerNorm eps 1e-6 everywhere (pyramid and heads too);
# - inputs normalised, then zero-padded to exactly square_size x square_size (pad_size_divisor =
#   square_size; the pad takes part in attention, so its size matters);
# - RPN ranked by logits (eva_mm.LogitRankRPNHead); cascade stage box stds 1/10, 1/20, 1/30 of
#   the (1, 1, 2, 2) pattern (detectron2 weights (10,10,5,5), (20,20,10,10), (30,30,15,15));
#   class probabilities averaged over the stages and ONE mask head on the final boxes
#   (eva_mm.EVACascadeRoIHead).
# Leaves set num_classes, the checkpoint and the test protocol.
custom_imports = dict(imports=['eva_mm'], allow_failed_imports=False)

backbone_depth = 40  # EVA-g
backbone_width = 1408
global_attn_blocks = list(range(3, backbone_depth, 4))  # 3, 7, ..., 39
window_attn_blocks = [i for i in range(backbone_depth) if i not in global_attn_blocks]
square_size = 1280  # the training size: square pad and global rel-pos tables
norm_cfg = dict(type='eva_mm.LN2d', eps=1e-6, requires_grad=True)  # mmcv's default eps is 1e-5
num_classes = 80


def _box_head(stds):  # one cascade stage: ViTDet's conv+fc head with LayerNorm
    return dict(
        type='Shared4Conv1FCBBoxHead', in_channels=256, conv_out_channels=256,
        fc_out_channels=1024, roi_feat_size=7, num_classes=num_classes, norm_cfg=norm_cfg,
        bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[0., 0., 0., 0.],
                        target_stds=stds),  # = 1 / detectron2's box-coder weights
        reg_class_agnostic=True,
        loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0),
        loss_bbox=dict(type='L1Loss', loss_weight=1.0))  # detectron2 smooth-L1 with beta 0


def _rcnn_stage(iou):
    return dict(
        assigner=dict(type='MaxIoUAssigner', pos_iou_thr=iou, neg_iou_thr=iou, min_pos_iou=iou,
                      match_low_quality=False, ignore_iof_thr=-1),
        sampler=dict(type='RandomSampler', num=512, pos_fraction=0.25, neg_pos_ub=-1,
                     add_gt_as_proposals=True),
        mask_size=28, pos_weight=-1, debug=False)


model = dict(
    type='CascadeRCNN',
    data_preprocessor=dict(
        type='DetDataPreprocessor', mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True, pad_mask=True, pad_size_divisor=square_size, pad_value=0),
    backbone=dict(
        type='eva_mm.EVAViT',
        arch='g',
        img_size=224,  # pre-training grid (14x14 after 14->16 conversion); resized per input
        patch_size=16,
        out_type='featmap',
        with_cls_token=False,
        final_norm=False,
        drop_path_rate=0.6,  # ViTDet-H value; SPEC gives no number
        window_size=16,
        window_block_indexes=window_attn_blocks,
        use_rel_pos=True,
        rel_pos_img_size=square_size,
        rel_pos_interp='vitdet',  # the 1536 evaluation configs switch to 'beit'
        freeze_patch_embed=True,
        norm_eps=1e-6,
        with_cp=True,
        init_cfg=dict(type='Pretrained', checkpoint='checkpoints/eva_psz14to16.pt')),
    neck=dict(
        type='eva_mm.SimpleFPN', backbone_channel=backbone_width,
        in_channels=[backbone_width // 4, backbone_width // 2, backbone_width, backbone_width],
        out_channels=256, num_outs=5, norm_cfg=norm_cfg),
    rpn_head=dict(
        type='eva_mm.LogitRankRPNHead', in_channels=256, feat_channels=256, num_convs=2,
        anchor_generator=dict(type='AnchorGenerator', scales=[8], ratios=[0.5, 1.0, 2.0],
                              strides=[4, 8, 16, 32, 64]),
        bbox_coder=dict(type='DeltaXYWHBBoxCoder', target_means=[.0, .0, .0, .0],
                        target_stds=[1.0, 1.0, 1.0, 1.0]),
        loss_cls=dict(type='CrossEntropyLoss', use_sigmoid=True, loss_weight=1.0),
        loss_bbox=dict(type='L1Loss', loss_weight=1.0)),  # detectron2 smooth-L1 with beta 0
    roi_head=dict(
        type='eva_mm.EVACascadeRoIHead',
        average_probs=True,
        single_mask_head=True,
        num_stages=3,
        stage_loss_weights=[1, 0.5, 0.25],
        bbox_roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0),
            out_channels=256, featmap_strides=[4, 8, 16, 32]),
        bbox_head=[
            _box_head([0.1, 0.1, 0.2, 0.2]),
            _box_head([0.05, 0.05, 0.1, 0.1]),
            _box_head([1 / 30, 1 / 30, 1 / 15, 1 / 15]),
        ],
        mask_roi_extractor=dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=14, sampling_ratio=0),
            out_channels=256, featmap_strides=[4, 8, 16, 32]),
        mask_head=dict(
            type='eva_mm.MasknessFCNMaskHead',
            maskness_thr=None,  # leaves switch the maskness calibration on (0.5)
            num_convs=4, in_channels=256, conv_out_channels=256, num_classes=num_classes,
            norm_cfg=norm_cfg,
            loss_mask=dict(type='CrossEntropyLoss', use_mask=True, loss_weight=1.0))),
    train_cfg=dict(
        rpn=dict(
            assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.7, neg_iou_thr=0.3,
                          min_pos_iou=0.3, match_low_quality=True, ignore_iof_thr=-1),
            sampler=dict(type='RandomSampler', num=256, pos_fraction=0.5, neg_pos_ub=-1,
                         add_gt_as_proposals=False),
            allowed_border=-1, pos_weight=-1, debug=False),
        # detectron2 ViTDet: 2000 per level before NMS, 1000 kept after NMS in training
        rpn_proposal=dict(nms_pre=2000, max_per_img=1000, nms=dict(type='nms', iou_threshold=0.7),
                          min_bbox_size=0),
        rcnn=[_rcnn_stage(0.5), _rcnn_stage(0.6), _rcnn_stage(0.7)]),
    test_cfg=dict(
        rpn=dict(nms_pre=1000, max_per_img=1000, nms=dict(type='nms', iou_threshold=0.7),
                 min_bbox_size=0),
        rcnn=dict(score_thr=0.05, nms=dict(type='nms', iou_threshold=0.5), max_per_img=100,
                  mask_thr_binary=0.5)))

# pretrained weights (eva_mm.CheckPretrainedWeightsHook): training refuses to start while the
# file is missing, or the key is None without allow_random_init=True. {config key: source}
pretrained_weights = {
    'model.backbone.init_cfg':
    'EVA-01 MIM weights at patch 16: download eva_psz14to16.pt '
    '(https://huggingface.co/BAAI/EVA/resolve/main/eva_psz14to16.pt) or convert eva_psz14.pt '
    'with tools/model_converters/eva_to_eva_mm.py --patch-size 16'}
allow_random_init = False
