# EVA-g fine-tune on ImageNet-1K: 10 epochs at 336 from the IN-21K model (SPEC §3: 89.6 top-1).
# 32 GPUs x 16 images. The IN-21K checkpoint's 16x16 position grid is resized to 24x24 and its
# 21841-way head is dropped when loading (EVAViT's converter).
_base_ = [
    '../_base_/models/cls_eva-g.py', '../_base_/datasets/cls_imagenet1k_336.py',
    '../_base_/schedules/cls_in1k_10e.py'
]
model = dict(
    backbone=dict(img_size=336,
                  init_cfg=dict(type='Pretrained',
                                checkpoint='checkpoints/eva_21k_224px_psz14.pt')),
    head=dict(loss=dict(label_smooth_val=0.3)))  # [EVA] smoothing 0.3, no Mixup/CutMix
pretrained_weights = {
    'model.backbone.init_cfg':
    'the IN-21K fine-tuned EVA-g eva_21k_224px_psz14.pt: '
    'https://huggingface.co/BAAI/EVA/resolve/main/eva_21k_224px_psz14.pt (or the last '
    'checkpoint of configs/cls/eva_in21k_224.py)'}
