# EVA-g video on Kinetics-400 (SPEC §3): 2 epochs (paper: 1-2) of 16 frames at 224, starting
# from the K722 intermediate model (its 8-slot temporal embedding is interpolated to 16);
# evaluation 16 frames x 3 crops x 4 clips. Paper top-1: 89.7 (88.4 without K722).
_base_ = [
    '../_base_/models/video_eva-g.py', '../_base_/datasets/video_kinetics400.py',
    '../_base_/schedules/video_adamw-ld_amp.py'
]
k722_checkpoint = 'work_dirs/eva_k722/epoch_40.pth'
model = dict(
    backbone=dict(num_frames=16,
                  init_cfg=dict(checkpoint=k722_checkpoint, prefix='backbone.')),
    cls_head=dict(num_classes=400))
pretrained_weights = {
    'model.backbone.init_cfg':
    'the K722 model: train configs/video/eva_k722.py (writes work_dirs/eva_k722/epoch_40.pth)'}

max_epochs = 2
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [  # short fine-tune: 500-iteration warm-up, cosine over the 2 epochs
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=500),
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=1e-6, by_epoch=True, begin=0,
         end=max_epochs, convert_to_iter_based=True)
]
optim_wrapper = dict(optimizer=dict(lr=2e-5))  # assumed (not in SPEC)
