# eva_cmrcnn_lvis.py with flip test-time augmentation at the test size (Soft-NMS, top 300).
# = `tools/test.py eva_cmrcnn_lvis.py CKPT --tta`; run this one without --tta.
_base_ = ['./eva_cmrcnn_lvis.py']
model = dict(_delete_=True, **_base_.tta_model, module=_base_.model)
test_dataloader = dict(dataset=dict(pipeline=_base_.tta_pipeline))
