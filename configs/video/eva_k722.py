# EVA-g video, intermediate fine-tune on Kinetics-722 (SPEC §3): K400+K600+K700 merged by class
# name, de-duplicated, val-leaked videos removed (tools/data/build_k722.py), 722 classes,
# 8 frames at 224, 40 epochs, from the EVA MIM checkpoint (patch kernel inflated, zero
# temporal embedding).
_base_ = [
    '../_base_/models/video_eva-g.py', '../_base_/datasets/video_kinetics400.py',
    '../_base_/schedules/video_adamw-ld_amp.py'
]
num_frames = 8
model = dict(backbone=dict(num_frames=num_frames), cls_head=dict(num_classes=722))

data_root = 'data/k722'  # holds k400/, k600/, k700/ -> {train,val} symlinks (see docs/video.md)
ann_file_train = 'data/k722/k722_train_list_videos.txt'
ann_file_val = 'data/k722/k722_val_list_videos.txt'
frame_interval = 8  # 8 x 8 spans the same 64 frames as 16 x 4 (assumed; not in SPEC)
train_pipeline = [
    dict(type='eva_mm.CheckedDecordInit'),
    dict(type='SampleFrames', clip_len=num_frames, frame_interval=frame_interval, num_clips=1),
    dict(type='eva_mm.CheckedDecordDecode'),
    dict(type='Resize', scale=(-1, 256)),
    dict(type='RandomResizedCrop'),
    dict(type='Resize', scale=(224, 224), keep_ratio=False),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
val_pipeline = [
    dict(type='eva_mm.CheckedDecordInit'),
    dict(type='SampleFrames', clip_len=num_frames, frame_interval=frame_interval, num_clips=1,
         test_mode=True),
    dict(type='eva_mm.CheckedDecordDecode'),
    dict(type='Resize', scale=(-1, 224)),
    dict(type='CenterCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
test_pipeline = [
    dict(type='eva_mm.CheckedDecordInit'),
    dict(type='SampleFrames', clip_len=num_frames, frame_interval=frame_interval, num_clips=4,
         test_mode=True),
    dict(type='eva_mm.CheckedDecordDecode'),
    dict(type='Resize', scale=(-1, 224)),
    dict(type='ThreeCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
train_dataloader = dict(batch_size=4, dataset=dict(
    ann_file=ann_file_train, data_prefix=dict(video=data_root), pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(
    ann_file=ann_file_val, data_prefix=dict(video=data_root), pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(
    ann_file=ann_file_val, data_prefix=dict(video=data_root), pipeline=test_pipeline))
train_cfg = dict(max_epochs=40, val_interval=5)
