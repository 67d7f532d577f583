# EVA-g Cascade Mask R-CNN, LVIS v1 at 1280, initialised from the Objects365 detector:
# federated sigmoid loss (50 classes, image_count ** 0.5), repeat-factor sampling 0.001,
# lvis-api evaluation; otherwise as COCO (official EVA-01/det/projects/ViTDet/configs/LVIS/
# cascade_mask_rcnn_vitdet_eva.py). Its test settings: sigmoid scores > 0.02, hard NMS 0.5,
# top 300, no maskness. The published 62.2 box / 55.0 mask AP come from the 1536 protocol:
# eva_cmrcnn_lvis_1536.py.
_base_ = [
    '../_base_/models/det_eva_cmrcnn.py', '../_base_/datasets/det_lvis_lsj_1280.py',
    '../_base_/schedules/det_eva01_runtime.py'
]
num_classes = 1203
fed_loss = dict(type='eva_mm.FederatedLoss', num_classes=num_classes, use_fed_loss=True,
                class_freq='data/lvis_v1/annotations/lvis_v1_train.json',
                num_fed_loss_classes=50, freq_weight_power=0.5)
load_from = 'work_dirs/eva_cmrcnn_o365/iter_184375.pth'  # the O365 detector
pretrained_weights = dict(
    _delete_=True,
    load_from='the Objects365 detector: train configs/det/eva_cmrcnn_o365.py, or the released eva_o365.pth (https://huggingface.co/BAAI/EVA/resolve/main/eva_o365.pth; load_from converts it)')
# sigmoid classifier: bias starts at the prior 0.01 (detectron2's use_sigmoid_ce init), so
# the ~50 federated BCE terms per RoI start small
sigmoid_head_init = [
    dict(type='Normal', std=0.01, bias_prob=0.01, override=dict(name='fc_cls')),
    dict(type='Normal', std=0.001, override=dict(name='fc_reg')),
    dict(type='Xavier', distribution='uniform',
         override=[dict(name='shared_fcs'), dict(name='cls_fcs'), dict(name='reg_fcs')]),
]
model = dict(
    backbone=dict(init_cfg=None),  # weights come from load_from
    roi_head=dict(
        bbox_head=[dict(h, num_classes=num_classes, loss_cls=fed_loss,
                        init_cfg=sigmoid_head_init)
                   for h in _base_.model.roi_head.bbox_head],
        mask_head=dict(num_classes=num_classes)),
    test_cfg=dict(rcnn=dict(score_thr=0.02, max_per_img=300)))
# LVIS run (RECIPES.md): batch 64 (tools/dist_train.sh CONFIG 64, 1 image per process),
# lr 2e-4, 75,001 iterations, x0.1 at 70,000 and 75,000, 250-iteration warm-up.
max_iters = 75001
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=7500)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=250),
    dict(type='MultiStepLR', by_epoch=False, begin=0, end=max_iters,
         milestones=[70000, 75000], gamma=0.1),
]
optim_wrapper = dict(optimizer=dict(lr=2e-4))
train_dataloader = dict(batch_size=1)  # x 64 processes = 64
