# EVA-g Cascade Mask R-CNN, COCO at 1280, initialised from the Objects365 detector
# (RECIPES.md; official EVA-01/det/projects/ViTDet/configs/COCO/cascade_mask_rcnn_vitdet_eva.py).
# Test settings of that config: softmax scores > 0.05, hard NMS 0.5 per class, top 100, no
# maskness. The published numbers come from the 1536 protocol: eva_cmrcnn_coco_1536*.py.
_base_ = [
    '../_base_/models/det_eva_cmrcnn.py', '../_base_/datasets/det_coco_lsj_1280.py',
    '../_base_/schedules/det_adamw_ld_lsj_100ep.py'
]
load_from = 'work_dirs/eva_cmrcnn_o365/iter_184375.pth'  # the O365 detector
pretrained_weights = dict(
    _delete_=True,
    load_from='the Objects365 detector: train configs/det/eva_cmrcnn_o365.py, or the released eva_o365.pth (https://huggingface.co/BAAI/EVA/resolve/main/eva_o365.pth; load_from converts it)')
model = dict(backbone=dict(init_cfg=None))  # weights come from load_from
