# eva_cmrcnn_coco.py with multi-scale (1024/1280/1536) + flip test-time augmentation; boxes of
# all views merged by Soft-NMS, masks follow their boxes (eva_mm.DetMaskTTAModel).
_base_ = ['./eva_cmrcnn_coco.py']
model = dict(_delete_=True, **_base_.tta_model, module=_base_.model)
test_dataloader = dict(dataset=dict(pipeline=_base_.tta_pipeline))
