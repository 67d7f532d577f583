# EVA-g Cascade Mask R-CNN, COCO at 1280, initialised from the Objects365 detector; Soft-NMS
# at test time and maskness-calibrated instance scores (SPEC §3: 64.5 box / 55.0 mask AP val).
_base_ = [
    '../_base_/models/det_eva_cmrcnn.py', '../_base_/datasets/det_coco_lsj_1280.py',
    '../_base_/schedules/det_adamw_ld_lsj_100ep.py'
]
load_from = 'work_dirs/eva_cmrcnn_o365/iter_184375.pth'  # the O365 detector
model = dict(
    backbone=dict(init_cfg=None),  # weights come from load_from
    roi_head=dict(mask_head=dict(maskness_thr=0.5)),
    test_cfg=dict(rcnn=dict(nms=dict(type='soft_nms', iou_threshold=0.5, min_score=0.05))))
