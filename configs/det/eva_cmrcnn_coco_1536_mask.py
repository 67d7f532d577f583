# The COCO mask protocol behind the paper's 55.0 mask AP (official README command for
# eva_coco_seg.pth): eva_cmrcnn_coco_1536.py plus maskness (threshold 0.5) calibrating the
# instance scores; mask AP only.
#   python tools/test.py configs/det/eva_cmrcnn_coco_1536_mask.py eva_coco_seg.pth
_base_ = ['./eva_cmrcnn_coco_1536.py']
model = dict(roi_head=dict(mask_head=dict(maskness_thr=0.5)))
val_evaluator = dict(metric=['segm'])
test_evaluator = val_evaluator
