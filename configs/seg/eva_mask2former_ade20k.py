# EVA-g + ViT-Adapter + Mask2Former on ADE20K (150 classes, 896 crop), single-scale test.
# Paper (SPEC §3): 61.5 mIoU single-scale, 62.3 multi-scale (eva_mask2former_ade20k_ms.py).
# The official ADE20K run starts from the COCO-Stuff fine-tuned model: set load_from to a
# checkpoint of eva_mask2former_cocostuff.py to follow it.
_base_ = [
    '../_base_/models/seg_eva-g_adapter_mask2former.py',
    '../_base_/datasets/seg_ade20k_896.py',
    '../_base_/schedules/seg_poly_40k.py',
]
