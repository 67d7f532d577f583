"""Helpers to shrink the paper-scale detector configs for tests and smoke runs."""
from typing import Any


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


__all__ = ['shrink_detector_cfg']
