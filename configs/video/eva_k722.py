# EVA-g video, intermediate fine-tune on Kinetics-722 = the official EVA-01 run
# (EVA-01/video/configs/kinetics722_intermediate_ft.yaml, defaults of utils/config.py,
# datasets/build.py, main.py; /work/shared/RECIPES.md "Video"): K400+K600+K700 merged by
# class name, de-duplicated, val-leaked videos removed (tools/data/build_k722.py), 722
# classes, 8 frames (TSN segments) at 224, from the EVA MIM checkpoint (patch kernel
# inflated, image position table tiled per frame). Optimiser and schedule: the base schedule
# (lr 8e-6, no layer decay, betas (0.9, 0.98), eps 1e-6, wd 0.05, 40 epochs, 5 warm-up from 0,
# cosine to lr/100, no gradient clipping); drop path 0.3; mixup 0.8 + cutmix 1.0 (one of the
# two per batch, probability 0.5 each), label smoothing 0.1, ColorJitter p 0.8, grayscale
# p 0.2, MultiScaleCrop. Launch assumed: 128 GPUs (16 nodes x 8) x batch 2 = total 256, the
# official one (auto_scale_lr.base_batch_size=256 in the schedule).
_base_ = [
    '../_base_/models/video_eva-g.py', '../_base_/datasets/video_kinetics400.py',
    '../_base_/schedules/video_adamw-ld_amp.py'
]
num_frames = 8
num_classes = 722
model = dict(
    backbone=dict(num_frames=num_frames),
    cls_head=dict(num_classes=num_classes),
    # official CutmixMixupBlending (datasets/blending.py): per batch cutmix (alpha 1.0) with
    # probability MIXUP_SWITCH_PROB 0.5, else mixup (alpha 0.8); the head's label smoothing
    # (0.1) is applied to the mixed targets, which equals the official smooth-then-mix
    data_preprocessor=dict(blending=dict(
        type='RandomBatchAugment',
        augments=[dict(type='MixupBlending', alpha=0.8, num_classes=num_classes),
                  dict(type='CutmixBlending', alpha=1.0, num_classes=num_classes)],
        probs=[0.5, 0.5])))

data_root = 'data/k722'  # holds k400/, k600/, k700/ -> {train,val} symlinks (see docs/video.md)
ann_file_train = 'data/k722/k722_train_list_videos.txt'
ann_file_val = 'data/k722/k722_val_list_videos.txt'
# the base pipelines with 8 segments instead of 16
train_pipeline = [
    dict(type='eva_mm.CheckedDecordInit'),
    dict(type='eva_mm.SampleSegments', num_segments=num_frames),
    dict(type='eva_mm.CheckedDecordDecode'),
    dict(type='Resize', scale=(-1, 256)),
    dict(type='MultiScaleCrop', input_size=224, scales=(1, 0.875, 0.75, 0.66),
         random_crop=False, max_wh_scale_gap=1),
    dict(type='Resize', scale=(224, 224), keep_ratio=False),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='RandomApply', transforms=[{{_base_.color_jitter}}], prob=0.8),
    dict(type='eva_mm.RandomGrayscale', prob=0.2),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
val_pipeline = [
    dict(type='eva_mm.CheckedDecordInit'),
    dict(type='eva_mm.SampleSegments', num_segments=num_frames, test_mode=True),
    dict(type='eva_mm.CheckedDecordDecode'),
    dict(type='Resize', scale=(-1, 256)),
    dict(type='CenterCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
test_pipeline = [
    dict(type='eva_mm.CheckedDecordInit'),
    dict(type='eva_mm.SampleSegments', num_segments=num_frames, num_views=4, test_mode=True),
    dict(type='eva_mm.CheckedDecordDecode'),
    dict(type='Resize', scale=(-1, 224)),
    dict(type='ThreeCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
train_dataloader = dict(batch_size=2, dataset=dict(  # per GPU (official BATCH_SIZE 2)
    ann_file=ann_file_train, data_prefix=dict(video=data_root), pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(
    ann_file=ann_file_val, data_prefix=dict(video=data_root), pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(
    ann_file=ann_file_val, data_prefix=dict(video=data_root), pipeline=test_pipeline))
train_cfg = dict(max_epochs=40, val_interval=5)
