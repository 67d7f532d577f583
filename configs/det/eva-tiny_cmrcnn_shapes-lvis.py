# CPU demo of the LVIS recipe on the synthetic LVIS-format shapes: federated sigmoid loss
# (frequencies from the train file), repeat-factor sampling, lvis-api evaluation.
_base_ = [
    '../_base_/models/det_eva-tiny_cmrcnn.py', '../_base_/datasets/det_shapes_lvis.py',
    '../_base_/schedules/det_adamw_ld_shapes_cpu.py'
]
num_classes = 24
fed_loss = dict(type='eva_mm.FederatedLoss', num_classes=num_classes, use_fed_loss=True,
                class_freq='data/shapes_det/annotations/lvis_train.json',
                num_fed_loss_classes=8, freq_weight_power=0.5)  # 50 of 1203 on LVIS
# sigmoid classifier: bias starts at the prior 0.01 (detectron2's use_sigmoid_ce init), so
# the ~50 federated BCE terms per RoI start small
sigmoid_head_init = [
    dict(type='Normal', std=0.01, bias_prob=0.01, override=dict(name='fc_cls')),
    dict(type='Normal', std=0.001, override=dict(name='fc_reg')),
    dict(type='Xavier', distribution='uniform',
         override=[dict(name='shared_fcs'), dict(name='cls_fcs'), dict(name='reg_fcs')]),
]
model = dict(
    roi_head=dict(
        bbox_head=[dict(h, num_classes=num_classes, loss_cls=fed_loss,
                        init_cfg=sigmoid_head_init)
                   for h in _base_.model.roi_head.bbox_head],
        mask_head=dict(num_classes=num_classes, maskness_thr=0.5)),
    test_cfg=dict(rcnn=dict(score_thr=0.0001, max_per_img=300)))
