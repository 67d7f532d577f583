# EVA-g video on Kinetics-400 (SPEC §3): 2 epochs (paper: 1-2) of 16 frames at 224, starting
# from the K722 intermediate model as the official code does (clip_mae.load,
# init_mode='eva_k722'): every backbone weight, its 8-frame position table resized
# trilinearly to 16 frames, and the head, whose rows are picked by the K722 -> K400 class
# mapping (tests/test_video_official.py reproduces the official loader's result).
# Evaluation 16 frames x 3 crops x 4 clips. Paper top-1: 89.7 (88.4 without K722).
_base_ = [
    '../_base_/models/video_eva-g.py', '../_base_/datasets/video_kinetics400.py',
    '../_base_/schedules/video_adamw-ld_amp.py'
]
# an eva_mm K722 run, or the released eva_video_k722.pth as it is (any layout eva_mm reads)
k722_checkpoint = 'work_dirs/eva_k722/epoch_40.pth'
# the K722 index of every K400 class (tools/data/build_k722.py writes it; official format)
class_mapping = 'data/k722/k722_to_k400_mapping.npy'
model = dict(
    backbone=dict(num_frames=16, drop_path_rate=0.2,  # official kinetics400_ft.yaml
                  init_cfg=dict(checkpoint=k722_checkpoint)),
    cls_head=dict(num_classes=400, class_mapping=class_mapping,
                  init_cfg=dict(type='Pretrained', checkpoint=k722_checkpoint)))
k722_source = ('the K722 model: train configs/video/eva_k722.py (writes '
               'work_dirs/eva_k722/epoch_40.pth) or get the released one: '
               'https://huggingface.co/BAAI/EVA/resolve/main/eva_video_k722.pth')
pretrained_weights = {
    'model.backbone.init_cfg': k722_source,
    'model.cls_head.init_cfg': k722_source,
    'model.cls_head.class_mapping':
    'tools/data/build_k722.py writes data/k722/k722_to_k400_mapping.npy'}

max_epochs = 2
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [  # short fine-tune: 500-iteration warm-up, cosine over the 2 epochs
    dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end=500),
    dict(type='CosineAnnealingLR', T_max=max_epochs, eta_min=1e-6, by_epoch=True, begin=0,
         end=max_epochs, convert_to_iter_based=True)
]
optim_wrapper = dict(optimizer=dict(lr=2e-5))  # assumed (not in SPEC)
