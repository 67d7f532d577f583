# EVA-g + ViT-Adapter + Mask2Former on COCO-Stuff-164K (171 classes, 896 crop), single-scale
# test, as the official EVA-01 run (EVA-01/seg/configs/coco_stuff164k/
# eva_mask2former_896_60k_cocostuff164k_ss.py; log EVA-01/logs/sem_seg/
# ft_cocstuff164k_sem_seg_ss_53p4_training_log.txt; released
# eva_sem_seg_mask2former_cocostuff_53p4.pth): 53.4 mIoU single-scale. From the MIM weights
# (eva_psz14, kernel resized 14 -> 16 on load), 60k iterations, lr 1.5e-5, layer decay 0.95
# (seg_poly_60k.py). Launch: total batch 32 = tools/dist_train.sh CONFIG 32 (1 image each).
_base_ = [
    '../_base_/models/seg_eva-g_adapter_mask2former.py',
    '../_base_/datasets/seg_cocostuff164k_896.py',
    '../_base_/schedules/seg_poly_60k.py',
]
num_classes = 171
model = dict(decode_head=dict(num_classes=num_classes,
                              loss_cls=dict(class_weight=[1.0] * num_classes + [0.1])))
