# The IN-1K fine-tuned EVA-g (336) on ImageNet-Adversarial (SPEC §3: 86.2): 200 classes, the
# 1000-way logits restricted to them (eva_mm.SubsetAccuracy). Folder layout <root>/<wnid>/.
# Official evaluation: EVA-01/eva/README.md, "Evaluate EVA on ImageNet-1K variants"
# (ImageNet-Adversarial); evaluation only (tools/test.py), any launch.
_base_ = ['./eva_in1k_336.py']
test_dataloader = dict(
    batch_size=16,
    num_workers=8,
    dataset=dict(_delete_=True, type='CustomDataset', data_root='data/imagenet-a',
                 pipeline={{_base_.test_pipeline}}),
    sampler=dict(type='DefaultSampler', shuffle=False))
test_evaluator = dict(_delete_=True, type='eva_mm.SubsetAccuracy', subset='imagenet-a',
                      topk=(1, 5))
