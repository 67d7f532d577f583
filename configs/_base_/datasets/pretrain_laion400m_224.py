# EVA-CLIP data (SPEC §3): LAION-400M image-text pairs at 224 (an eva_mm
# CaptionedImageDataset JSON index), batch 41k = 160 per GPU x 256 GPUs; zero-shot
# ImageNet-1K validation with OpenAI's 80 prompt templates.
# data_root = img2dataset's output folder (tar shards 00000.tar or folders 00000/);
# annotations.json indexes it in place: python tools/data/build_laion_index.py data/laion400m
# (docs/pretrain.md). LoadImageFromShard reads each image's bytes straight out of its tar.
data_root = 'data/laion400m'
train_pipeline = [
    dict(type='eva_mm.LoadImageFromShard'),
    dict(type='RandomResizedCrop', scale=224, crop_ratio_range=(0.9, 1.0), backend='pillow',
         interpolation='bicubic'),
    dict(type='eva_mm.TokenizeCaption', context_length=77),
    dict(type='PackInputs', algorithm_keys=['text']),
]
train_dataloader = dict(
    batch_size=160,
    num_workers=10,
    persistent_workers=True,
    pin_memory=True,
    drop_last=True,  # the cross-process gather needs equal local batches
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='eva_mm.CaptionedImageDataset', data_root=data_root,
                 ann_file='annotations.json', pipeline=train_pipeline))
val_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='ResizeEdge', scale=224, edge='short', backend='pillow', interpolation='bicubic'),
    dict(type='CenterCrop', crop_size=224),
    dict(type='PackInputs'),
]
val_dataloader = dict(
    batch_size=128,
    num_workers=8,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='ImageNet', data_root='data/imagenet', split='val',
                 pipeline=val_pipeline))
val_evaluator = dict(type='eva_mm.ZeroShotAccuracy', templates='openai_imagenet',
                     classnames='imagenet', topk=(1, 5))
test_dataloader = val_dataloader
test_evaluator = val_evaluator
