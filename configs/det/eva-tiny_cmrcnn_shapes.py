# CPU demo: tiny EVA Cascade Mask R-CNN on the synthetic shapes (COCO format), trained from
# scratch in <= 10 min on 2 CPU cores; Soft-NMS and maskness at test time as the COCO recipe.
_base_ = [
    '../_base_/models/det_eva-tiny_cmrcnn.py', '../_base_/datasets/det_shapes_coco.py',
    '../_base_/schedules/det_adamw_ld_shapes_cpu.py'
]
model = dict(
    roi_head=dict(mask_head=dict(maskness_thr=0.5)),
    test_cfg=dict(rcnn=dict(nms=dict(type='soft_nms', iou_threshold=0.5, min_score=0.05))))
