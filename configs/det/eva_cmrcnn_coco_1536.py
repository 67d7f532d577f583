# The COCO box protocol behind the paper's 64.2 box AP (official EVA-01/det README command for
# eva_coco_det.pth with projects/ViTDet/configs/COCO/cascade_mask_rcnn_vitdet_eva_1536.py):
# the 1280-trained detector tested single-scale at 1536 — long side to 1536 (PIL bilinear),
# zero pad to 1536 x 1536 after normalisation, global rel-pos tables (learned for 1280, 159
# rows) resized to 191 rows with the official "beit" interpolation, position grid bicubic to
# 96 x 96 — linear Soft-NMS (IoU >= 0.6, sigma 0.5, min score 1e-3) on every candidate with
# score > 0, no top-k, no maskness (box AP from uncalibrated scores); COCO evaluation keeps the
# 100 best detections per image (maxDets 1/10/100, as detectron2's evaluator).
# split_thr: ONE Soft-NMS call over all (box, class) candidates with class offsets, as the
# official code; mmcv's batched_nms otherwise runs it per class above 10000 candidates, which
# keeps a class's last box even below min_score (mmcv checks min_score only against boxes still
# to be compared), e.g. 1674 instead of the official 1664 detections on a reference image.
#   python tools/test.py configs/det/eva_cmrcnn_coco_1536.py eva_coco_det.pth
# The mask number (55.0 mask AP) uses eva_coco_seg.pth with maskness: eva_cmrcnn_coco_1536_mask.py
_base_ = ['./eva_cmrcnn_coco.py']
image_size = (1536, 1536)
test_resize = dict(type='Resize', scale=image_size, keep_ratio=True, backend='pillow',
                   interpolation='bilinear')
# the base's test / TTA pipelines with the 1536 resize
test_pipeline = [test_resize if t['type'] == 'Resize' else t for t in _base_.test_pipeline]
tta_pipeline = [
    dict(t, transforms=[[test_resize]] + t['transforms'][1:]) if t['type'] == 'TestTimeAug' else t
    for t in _base_.tta_pipeline
]
soft_nms = dict(type='soft_nms', iou_threshold=0.6, min_score=1e-3, method='linear', sigma=0.5,
                split_thr=2**62)
tta_model = dict(tta_cfg=dict(nms=soft_nms, max_per_img=-1))
load_from = None  # the checkpoint comes from tools/test.py
# an evaluation protocol: nothing to train (tools/train.py on it stops at once)
train_dataloader = None
train_cfg = None
optim_wrapper = None
param_scheduler = None
model = dict(
    data_preprocessor=dict(pad_size_divisor=image_size[0]),
    backbone=dict(rel_pos_interp='beit'),
    test_cfg=dict(rcnn=dict(score_thr=0.0, max_per_img=-1, nms=soft_nms)))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(metric=['bbox'], proposal_nums=(1, 10, 100))
test_evaluator = val_evaluator
