# Kinetics-400 videos read with decord; 16 frames at 224, the official EVA-01 video data
# pipelines (EVA-01/video/datasets/build.py; strengths and probabilities from
# utils/config.py and configs/kinetics400_ft.yaml, see /work/shared/RECIPES.md "Video"):
# TSN segment sampling (one frame from each of 16 equal segments of the whole video),
# short side 256 -> MultiScaleCrop (1, .875, .75, .66) -> 224, flip, ColorJitter (p 0.8),
# grayscale (p 0.2). Validation: segment middles, short side 256, centre crop 224. Test: 16
# frames x 3 crops x 4 clips (4 random segment draws, seeded) at short side 224.
dataset_type = 'VideoDataset'
data_root = 'data/kinetics400/videos_train'
data_root_val = 'data/kinetics400/videos_val'
ann_file_train = 'data/kinetics400/kinetics400_train_list_videos.txt'
ann_file_val = 'data/kinetics400/kinetics400_val_list_videos.txt'
ann_file_test = ann_file_val

clip_len = 16
# official torchvision ColorJitter(brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1), one
# draw per clip (official: per frame); eva_mm.ColorJitter = mmaction2's with torchvision's hue
# unit (fraction of the hue circle) and a numpy-2 fix, see eva_mm/video/transforms.py
color_jitter = dict(type='eva_mm.ColorJitter', brightness=0.4, contrast=0.4, saturation=0.2,
                    hue=0.1)
train_pipeline = [
    dict(type='eva_mm.CheckedDecordInit'),
    dict(type='eva_mm.SampleSegments', num_segments=clip_len),
    dict(type='eva_mm.CheckedDecordDecode'),
    dict(type='Resize', scale=(-1, 256)),
    dict(type='MultiScaleCrop', input_size=224, scales=(1, 0.875, 0.75, 0.66),
         random_crop=False, max_wh_scale_gap=1),
    dict(type='Resize', scale=(224, 224), keep_ratio=False),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='RandomApply', transforms=[color_jitter], prob=0.8),
    dict(type='eva_mm.RandomGrayscale', prob=0.2),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
val_pipeline = [
    dict(type='eva_mm.CheckedDecordInit'),
    dict(type='eva_mm.SampleSegments', num_segments=clip_len, test_mode=True),
    dict(type='eva_mm.CheckedDecordDecode'),
    dict(type='Resize', scale=(-1, 256)),
    dict(type='CenterCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
test_pipeline = [  # 4 clips x 3 crops = 12 views per video, softmax-averaged by the head
    dict(type='eva_mm.CheckedDecordInit'),
    dict(type='eva_mm.SampleSegments', num_segments=clip_len, num_views=4, test_mode=True),
    dict(type='eva_mm.CheckedDecordDecode'),
    dict(type='Resize', scale=(-1, 224)),
    dict(type='ThreeCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]

train_dataloader = dict(
    batch_size=2,  # per GPU
    num_workers=8,
    # False: an epoch-based loop resumed at epoch k restarts the workers, so only workers
    # restarted every epoch repeat an uninterrupted run exactly (eva_mm.RNGStateHook)
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type=dataset_type, ann_file=ann_file_train,
                 data_prefix=dict(video=data_root), pipeline=train_pipeline))
val_dataloader = dict(
    # 1 video per batch: the model's test_cfg.max_testing_views (used in val and test alike)
    # makes mmaction2's Recognizer3D refuse any other batch size
    batch_size=1,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, ann_file=ann_file_val,
                 data_prefix=dict(video=data_root_val), pipeline=val_pipeline,
                 test_mode=True))
test_dataloader = dict(
    batch_size=1,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(type=dataset_type, ann_file=ann_file_test,
                 data_prefix=dict(video=data_root_val), pipeline=test_pipeline,
                 test_mode=True))

val_evaluator = dict(type='AccMetric')
test_evaluator = val_evaluator
