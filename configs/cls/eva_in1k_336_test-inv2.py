# The IN-1K fine-tuned EVA-g (336) evaluated unchanged on ImageNet-V2 matched-frequency
# (SPEC §3: 81.6). Folders are class indices 0..999 -> eva_mm.ImageNetV2.
#   python tools/test.py configs/cls/eva_in1k_336_test-inv2.py CKPT
# Official evaluation: EVA-01/eva/README.md, "Evaluate EVA on ImageNet-1K variants"
# (ImageNet-V2); evaluation only (tools/test.py), any launch.
_base_ = ['./eva_in1k_336.py']
test_dataloader = dict(
    batch_size=16,
    num_workers=8,
    dataset=dict(_delete_=True, type='eva_mm.ImageNetV2',
                 data_root='data/imagenetv2/imagenetv2-matched-frequency-format-val',
                 pipeline={{_base_.test_pipeline}}),
    sampler=dict(type='DefaultSampler', shuffle=False))
test_evaluator = dict(type='Accuracy', topk=(1, 5))
