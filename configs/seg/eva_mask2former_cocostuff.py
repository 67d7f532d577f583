# EVA-g + ViT-Adapter + Mask2Former on COCO-Stuff-164K (171 classes, 896 crop),
# single-scale test. Paper (SPEC §3): 53.4 mIoU single-scale.
_base_ = [
    '../_base_/models/seg_eva-g_adapter_mask2former.py',
    '../_base_/datasets/seg_cocostuff164k_896.py',
    '../_base_/schedules/seg_poly_60k.py',
]
num_classes = 171
model = dict(decode_head=dict(num_classes=num_classes,
                              loss_cls=dict(class_weight=[1.0] * num_classes + [0.1])))
