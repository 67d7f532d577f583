# mmdet's own stock Mask R-CNN (R-50 FPN, 1x, COCO), with the backbone and neck swapped for
# eva_mm.EVAViT + eva_mm.SimpleFPN. eva_mm is reached through custom_imports only: nothing
# else of eva_mm (no eva_mm config, no eva_mm script) is needed.
_base_ = 'mmdet::mask_rcnn/mask-rcnn_r50_fpn_1x_coco.py'
custom_imports = dict(imports=['eva_mm'], allow_failed_imports=False)

depth = 12  # EVA ViT-B; global attention in the last block of each third (2, 5, 8, 11)
width = 768
model = dict(
    backbone=dict(
        _delete_=True,
        type='eva_mm.EVAViT',
        arch='b',
        img_size=224,
        patch_size=16,
        out_type='featmap',
        with_cls_token=False,
        final_norm=False,
        drop_path_rate=0.1,
        window_size=14,
        window_block_indexes=[i for i in range(depth) if i % 3 != 2],
        init_cfg=None),  # e.g. dict(type='Pretrained', checkpoint='eva_b_psz14to16.pt')
    neck=dict(
        _delete_=True,
        type='eva_mm.SimpleFPN',
        backbone_channel=width,
        in_channels=[width // 4, width // 2, width, width],
        out_channels=256,
        num_outs=5))
# plain ViTs want AdamW with layer-wise lr decay rather than the stock SGD
optim_wrapper = dict(
    _delete_=True,
    type='OptimWrapper',
    constructor='eva_mm.LayerDecayOptimWrapperConstructor',
    paramwise_cfg=dict(layer_decay_rate=0.7),
    optimizer=dict(type='AdamW', lr=1e-4, betas=(0.9, 0.999), weight_decay=0.1))
