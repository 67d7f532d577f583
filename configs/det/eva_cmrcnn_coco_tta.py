# eva_cmrcnn_coco.py with flip test-time augmentation at the test size (the base's tta_pipeline;
# views must fit the square pad); boxes of both views merged by Soft-NMS, masks follow their
# boxes (eva_mm.DetMaskTTAModel). = `tools/test.py eva_cmrcnn_coco.py CKPT --tta`; run this
# one without --tta (the model is the TTA wrapper already).
_base_ = ['./eva_cmrcnn_coco.py']
model = dict(_delete_=True, **_base_.tta_model, module=_base_.model)
test_dataloader = dict(dataset=dict(pipeline=_base_.tta_pipeline))
