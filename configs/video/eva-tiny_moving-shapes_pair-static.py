# Test-only diagnostic for eva-tiny_moving-shapes.py: frames held in pairs (0,0,2,2,4,4,6,6), so
# inside each 2-frame tubelet nothing moves and the motion is visible only ACROSS tubelets,
# i.e. only to the joint space-time attention. Above chance here = attention reads the motion.
_base_ = ['eva-tiny_moving-shapes.py']
test_pipeline = [
    dict(type='eva_mm.CheckedDecordInit'),
    dict(type='SampleFrames', clip_len=8, frame_interval=1, num_clips=2, test_mode=True),
    dict(type='eva_mm.CheckedDecordDecode'),
    dict(type='eva_mm.RepeatFrame', hold=2),
    dict(type='ThreeCrop', crop_size=32),
    dict(type='FormatShape', input_format='NCTHW'),
    dict(type='PackActionInputs')
]
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
