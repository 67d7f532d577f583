# EVA-g Cascade Mask R-CNN, COCO at 1280, initialised from the Objects365 detector
# (RECIPES.md; official EVA-01/det/projects/ViTDet/configs/COCO/cascade_mask_rcnn_vitdet_eva.py).
# Test settings of that config: softmax scores > 0.05, hard NMS 0.5 per class, top 100, no
# maskness. The published numbers come from the 1536 protocol: eva_cmrcnn_coco_1536*.py.
_base_ = [
    '../_base_/models/det_eva_cmrcnn.py', '../_base_/datasets/det_coco_lsj_1280.py',
    '../_base_/schedules/det_eva01_runtime.py'
]
load_from = 'work_dirs/eva_cmrcnn_o365/iter_184375.pth'  # the O365 detector
pretrained_weights = dict(
    _delete_=True,
    load_from='the Objects365 detector: train configs/det/eva_cmrcnn_o365.py, or the released eva_o365.pth (https://huggingface.co/BAAI/EVA/resolve/main/eva_o365.pth; load_from converts it)')
model = dict(backbone=dict(init_cfg=None))  # weights come from load_from
# COCO run (RECIPES.md): batch 64 (tools/dist_train.sh CONFIG 64, 1 image per process),
# lr 2.5e-5, 45,000 iterations, x0.1 at 40,000 and again at 44,999, 500-iteration warm-up
# (the box checkpoint of the release is the 35k one, the mask checkpoint the 45k one).
max_iters = 45000
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=5000)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters,
         milestones=[40000, 44999], gamma=0.1),
]
optim_wrapper = dict(optimizer=dict(lr=2.5e-5))
train_dataloader = dict(batch_size=1)  # x 64 processes = 64
