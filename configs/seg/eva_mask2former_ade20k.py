# EVA-g + ViT-Adapter + Mask2Former on ADE20K (150 classes, 896 crop), single-scale test, as
# the official EVA-01 run (EVA-01/seg/configs/ade20k/eva_mask2former_896_20k_coco164k2ade20k_ss.py;
# log EVA-01/logs/sem_seg/ft_ade20k_sem_seg_ms_62p3_training_log.txt; released
# eva_sem_seg_mask2former_ade_ss61p5_ms62p3.pth): 61.5 mIoU single-scale, 62.3 multi-scale
# (eva_mask2former_ade20k_ms.py). It starts from the COCO-Stuff segmenter (load_from), not
# from the MIM weights; 20k iterations, lr 2.5e-5, layer decay 0.95, warm-up 500
# (seg_poly_20k.py). Launch: total batch 64 = tools/dist_train.sh CONFIG 64 (1 image each).
_base_ = [
    '../_base_/models/seg_eva-g_adapter_mask2former.py',
    '../_base_/datasets/seg_ade20k_896.py',
    '../_base_/schedules/seg_poly_20k.py',
]
# the COCO-Stuff segmenter: the last checkpoint of eva_mask2former_cocostuff.py, or the released
# eva_sem_seg_mask2former_cocostuff_53p4.pth in the official layout (eva_mm.ConvertCheckpointHook
# in the schedule converts it on load)
load_from = 'work_dirs/eva_mask2former_cocostuff/iter_60000.pth'
pretrained_weights = dict(
    _delete_=True,
    load_from='the COCO-Stuff segmenter: train configs/seg/eva_mask2former_cocostuff.py, or the '
    'released eva_sem_seg_mask2former_cocostuff_53p4.pth '
    '(https://huggingface.co/BAAI/EVA/resolve/main/eva_sem_seg_mask2former_cocostuff_53p4.pth; '
    'load_from converts it)')
model = dict(backbone=dict(vit=dict(init_cfg=None)))  # every weight comes from load_from
