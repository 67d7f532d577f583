# Multi-scale (short side 512..1280, 7 scales) + flip test of eva_mask2former_cocostuff.py.
# eva_mm's own: the official EVA-01 repository publishes no COCO-Stuff multi-scale test (its
# run: EVA-01/seg/configs/coco_stuff164k/eva_mask2former_896_60k_cocostuff164k_ss.py).
# Same as `tools/test.py eva_mask2former_cocostuff.py CKPT --tta`.
_base_ = ['./eva_mask2former_cocostuff.py']
model = dict(_delete_=True, type='SegTTAModel', module={{_base_.model}})
test_dataloader = dict(dataset=dict(pipeline={{_base_.tta_pipeline}}))
