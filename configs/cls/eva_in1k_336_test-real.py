# The IN-1K fine-tuned EVA-g (336) on ImageNet-ReaL (SPEC §3: 90.8): the ImageNet val images
# scored against the ReaL label sets (timm's copy of real.json unless real_json= is given).
# Official evaluation: EVA-01/eva/README.md, "Evaluate EVA on ImageNet-1K variants"
# (ImageNet-ReaL); evaluation only (tools/test.py), any launch.
_base_ = ['./eva_in1k_336.py']
test_evaluator = dict(_delete_=True, type='eva_mm.ReaLAccuracy', topk=(1, 5))
