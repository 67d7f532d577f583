# The LVIS protocol behind the paper's 62.2 box / 55.0 mask AP (official EVA-01/det README
# command for eva_lvis.pth with projects/ViTDet/configs/LVIS/cascade_mask_rcnn_vitdet_eva_1536.py):
# the 1280-trained detector tested single-scale at 1536 (PIL-bilinear resize, zero pad to
# 1536 x 1536 after normalisation, global rel-pos tables resized 159 -> 191 rows by the official
# "beit" interpolation), sigmoid scores > 0.001, hard NMS 0.5 per class (no Soft-NMS), the top
# 1000 detections per image, maskness 0.5; lvis-api evaluation with 1000 detections per image.
#   python tools/test.py configs/det/eva_cmrcnn_lvis_1536.py eva_lvis.pth
_base_ = ['./eva_cmrcnn_lvis.py']
image_size = (1536, 1536)
test_resize = dict(type='Resize', scale=image_size, keep_ratio=True, backend='pillow',
                   interpolation='bilinear')
# the base's test / TTA pipelines with the 1536 resize
test_pipeline = [test_resize if t['type'] == 'Resize' else t for t in _base_.test_pipeline]
tta_pipeline = [
    dict(t, transforms=[[test_resize]] + t['transforms'][1:]) if t['type'] == 'TestTimeAug' else t
    for t in _base_.tta_pipeline
]
tta_model = dict(tta_cfg=dict(nms=dict(type='nms', iou_threshold=0.5), max_per_img=1000))
load_from = None  # the checkpoint comes from tools/test.py
# an evaluation protocol: nothing to train (tools/train.py on it stops at once)
train_dataloader = None
train_cfg = None
optim_wrapper = None
param_scheduler = None
model = dict(
    data_preprocessor=dict(pad_size_divisor=image_size[0]),
    backbone=dict(rel_pos_interp='beit'),
    roi_head=dict(mask_head=dict(maskness_thr=0.5)),
    test_cfg=dict(rcnn=dict(score_thr=0.001, max_per_img=1000)))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='eva_mm.LVISMetricMaxDets', max_dets=1000)
test_evaluator = val_evaluator
