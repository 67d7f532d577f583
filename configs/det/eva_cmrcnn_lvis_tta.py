# eva_cmrcnn_lvis.py with multi-scale (1024/1280/1536) + flip test-time augmentation.
_base_ = ['./eva_cmrcnn_lvis.py']
model = dict(_delete_=True, **_base_.tta_model, module=_base_.model)
test_dataloader = dict(dataset=dict(pipeline=_base_.tta_pipeline))
