# Multi-scale (short side 512..1280, 7 scales) + flip test of eva_mask2former_cocostuff.py.
# Same as `tools/test.py eva_mask2former_cocostuff.py CKPT --tta`.
_base_ = ['./eva_mask2former_cocostuff.py']
model = dict(_delete_=True, type='SegTTAModel', module={{_base_.model}})
test_dataloader = dict(dataset=dict(pipeline={{_base_.tta_pipeline}}))
