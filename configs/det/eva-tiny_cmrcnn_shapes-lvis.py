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
model = dict(
    roi_head=dict(
        bbox_head=[dict(h, num_classes=num_classes, loss_cls=fed_loss)
                   for h in _base_.model.roi_head.bbox_head],
        mask_head=dict(num_classes=num_classes, maskness_thr=0.5)),
    test_cfg=dict(rcnn=dict(score_thr=0.0001, max_per_img=300)))
