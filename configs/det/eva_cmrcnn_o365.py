# EVA-g Cascade R-CNN, Objects365 v2 at 1024 (boxes only: O365 has no masks): the
# intermediate detection fine-tune whose weights initialise the COCO and LVIS detectors.
_base_ = [
    '../_base_/models/det_eva_cmrcnn.py', '../_base_/datasets/det_o365_lsj_1024.py',
    '../_base_/schedules/det_adamw_ld_lsj_100ep.py'
]
num_classes = 365
square_size = 1024  # square pad and global rel-pos tables (127 rows) at the O365 size
model = dict(
    data_preprocessor=dict(pad_size_divisor=square_size),
    roi_head=dict(
        bbox_head=[dict(h, num_classes=num_classes) for h in _base_.model.roi_head.bbox_head],
        mask_roi_extractor=None,
        mask_head=None),
    # 14->16 converted EVA-g MIM weights (tools/model_converters; SPEC §4)
    backbone=dict(rel_pos_img_size=square_size,
                  init_cfg=dict(type='Pretrained', checkpoint='checkpoints/eva_psz14to16.pt')))
