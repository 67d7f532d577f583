# EVA-g fine-tune on ImageNet-1K: 10 epochs at 336 from the IN-21K model (89.6 top-1), as the
# official EVA-01 run (EVA-01/eva/README.md IN-1K fine-tuning command,
# EVA-01/eva/run_class_finetuning.py + modeling_finetune.py; log
# EVA-01/logs/cls/ft_1k_cls_sz336_89p6.txt; released eva_21k_1k_336px_psz14_ema_89p6.pt).
# Launch: total batch 512 = 32 processes x 16 images (tools/dist_train.sh CONFIG 32; official:
# 4 nodes x 8 GPUs x 16). The IN-21K checkpoint's 16x16 position grid is resized to 24x24 and
# its 21841-way head is dropped when loading (EVAViT's converter). No gradient into the patch
# embedding (freeze_patch_embed=True = the official stop_grad_conv1=True).
_base_ = [
    '../_base_/models/cls_eva-g.py', '../_base_/datasets/cls_imagenet1k_336.py',
    '../_base_/schedules/cls_in1k_10e.py'
]
model = dict(
    backbone=dict(img_size=336, freeze_patch_embed=True,  # [EVA] stop_grad_conv1
                  init_cfg=dict(type='Pretrained',
                                checkpoint='checkpoints/eva_21k_224px_psz14.pt')),
    head=dict(loss=dict(label_smooth_val=0.3)))  # [EVA] smoothing 0.3, no Mixup/CutMix
pretrained_weights = {
    'model.backbone.init_cfg':
    'the IN-21K fine-tuned EVA-g eva_21k_224px_psz14.pt: '
    'https://huggingface.co/BAAI/EVA/resolve/main/eva_21k_224px_psz14.pt (or the last '
    'checkpoint of configs/cls/eva_in21k_224.py)'}
