# Test-only variant of eva-tiny_moving-shapes.py: every clip is replaced by ONE frame (its middle
# frame) repeated, so no motion is visible. A model that uses the temporal attention must fall
# to chance (25%) here. Run with the checkpoint trained by eva-tiny_moving-shapes.py.
_base_ = ['eva-tiny_moving-shapes.py']
test_pipeline = [
    dict(type='eva_mm.CheckedDecordInit'),
    dict(type='SampleFrames', clip_len=8, frame_interval=1, num_clips=2, test_mode=True),
    dict(type='eva_mm.CheckedDecordDecode'),
    dict(type='eva_mm.RepeatFrame', index='middle'),
    dict(type='ThreeCrop', crop_size=32),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
