"""Helpers to shrink the paper-scale detector configs for tests and smoke runs."""
from typing import Any


def official_tiny_cfg(cfg: Any, size: int) -> Any:
    """Shrink a paper detection config (a ``Config``) in place to the sizes of the official
    reference detector in ``shared/reference/eva01_det`` (its README §2): ViT 192 wide, 8
    blocks, 3 heads, MLP 837, window 16 in blocks 0-2 and 4-6, rel-pos tables learned for 256;
    64-channel pyramid / RPN / heads, 128-wide box fc; test resize and square pad to ``size``.
    Everything else (the official options, the test protocol) stays the config's."""
    m = cfg.model.get('module', cfg.model)
    m.data_preprocessor.pad_size_divisor = size
    m.backbone.update(arch=dict(embed_dims=192, num_layers=8, num_heads=3,
                                feedforward_channels=837),
                      window_block_indexes=[0, 1, 2, 4, 5, 6], rel_pos_img_size=256,
                      with_cp=False, init_cfg=None)
    m.neck.update(backbone_channel=192, in_channels=[48, 96, 192, 192], out_channels=64)
    m.rpn_head.update(in_channels=64, feat_channels=64)
    m.roi_head.bbox_roi_extractor.out_channels = 64
    for h in m.roi_head.bbox_head:
        h.update(in_channels=64, conv_out_channels=64, fc_out_channels=128)
    if m.roi_head.get('mask_head'):
        m.roi_head.mask_roi_extractor.out_channels = 64
        m.roi_head.mask_head.update(in_channels=64, conv_out_channels=64)
    for key in ('pipeline', 'tta_pipeline'):
        pipe = cfg.test_dataloader.dataset.pipeline if key == 'pipeline' else cfg.get(key, [])
        for t in pipe:
            for tr in ([t] if t['type'] == 'Resize' else
                       [x for group in t.get('transforms', []) for x in group]):
                if tr['type'] == 'Resize':
                    tr['scale'] = (size, size)
    return cfg


def shrink_detector_cfg(model: Any, width: int = 64, depth: int = 4, heads: int = 2) -> Any:
    """Replace the EVAViT of a detector config (``model`` or a TTA wrapper's ``module``) by a
    tiny one (global attention in every other block) and fit the SimpleFPN to it; in place.
    Everything else (heads, losses, test options) is kept, so building it exercises the
    config's own components."""
    m = model.get('module', model)
    bb = m['backbone']
    if bb.get('type') != 'eva_mm.EVAViT':
        raise ValueError(f'expected an eva_mm.EVAViT backbone, got {bb.get("type")!r}')
    bb['arch'] = dict(embed_dims=width, num_layers=depth, num_heads=heads,
                      feedforward_channels=2 * width)
    if bb.get('window_block_indexes'):
        bb['window_block_indexes'] = [i for i in range(depth) if i % 2 == 0]
    bb['with_cp'] = False
    bb['init_cfg'] = None
    neck = m['neck']
    neck['backbone_channel'] = width
    neck['in_channels'] = [width // 4, width // 2, width, width]
    return model


__all__ = ['official_tiny_cfg', 'shrink_detector_cfg']
