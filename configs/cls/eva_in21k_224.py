# EVA-g intermediate fine-tune on ImageNet-21K: 60 epochs at 224 from the MIM checkpoint
# (SPEC §3). 64 GPUs x 64 images. [EVA] = official EVA-01 command (see the base files).
_base_ = [
    '../_base_/models/cls_eva-g.py', '../_base_/datasets/cls_imagenet21k_224.py',
    '../_base_/schedules/cls_in21k_60e.py'
]
num_classes = 21841
model = dict(
    backbone=dict(img_size=224,
                  init_cfg=dict(type='Pretrained', checkpoint='checkpoints/eva_psz14.pt')),
    head=dict(num_classes=num_classes),
    data_preprocessor=dict(num_classes=num_classes),
    train_cfg=dict(augments=[dict(type='CutMix', alpha=1.0)]))  # [EVA] cutmix 1.0, mixup 0
