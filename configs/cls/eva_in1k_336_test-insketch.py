# The IN-1K fine-tuned EVA-g (336) on ImageNet-Sketch (SPEC §3: 67.7): all 1000 classes, one
# folder per WordNet id (sorted = ImageNet-1K class order).
# Official evaluation: EVA-01/eva/README.md, "Evaluate EVA on ImageNet-1K variants"
# (ImageNet-Sketch); evaluation only (tools/test.py), any launch.
_base_ = ['./eva_in1k_336.py']
test_dataloader = dict(
    batch_size=16,
    num_workers=8,
    dataset=dict(_delete_=True, type='CustomDataset', data_root='data/imagenet-sketch/sketch',
                 pipeline={{_base_.test_pipeline}}),
    sampler=dict(type='DefaultSampler', shuffle=False))
test_evaluator = dict(type='Accuracy', topk=(1, 5))
