# EVA-g intermediate fine-tune on ImageNet-21K: 60 epochs at 224 from the MIM checkpoint, as
# the official EVA-01 run (EVA-01/eva/README.md "intermediate fine-tuning" command,
# EVA-01/eva/run_class_finetuning.py + modeling_finetune.py; log
# EVA-01/logs/cls/intermed_ft_22k_60ep_sz224.txt; released eva_21k_224px_psz14.pt).
# [EVA] = official value (see the base files). Launch: total batch 4096 = 64 processes x 64
# images (tools/dist_train.sh CONFIG 64; official: 8 nodes x 8 GPUs x 64).
# No gradient into the patch embedding (freeze_patch_embed=True): the official fine-tuning
# model detaches the patch-embedding output (stop_grad_conv1=True, its default).
_base_ = [
    '../_base_/models/cls_eva-g.py', '../_base_/datasets/cls_imagenet21k_224.py',
    '../_base_/schedules/cls_in21k_60e.py'
]
num_classes = 21841
model = dict(
    backbone=dict(img_size=224, freeze_patch_embed=True,  # [EVA] stop_grad_conv1
                  init_cfg=dict(type='Pretrained', checkpoint='checkpoints/eva_psz14.pt')),
    head=dict(num_classes=num_classes),
    data_preprocessor=dict(num_classes=num_classes),
    train_cfg=dict(augments=[dict(type='CutMix', alpha=1.0)]))  # [EVA] cutmix 1.0, mixup 0
