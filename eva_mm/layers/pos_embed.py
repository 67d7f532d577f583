"""Absolute position-embedding and patch-kernel resizing (bicubic), shared by the backbone
and the checkpoint converter."""
from typing import Tuple

import torch
import torch.nn.functional as F


def resize_pos_embed(pos_embed: torch.Tensor, src_hw: Tuple[int, int], dst_hw: Tuple[int, int],
                     num_prefix_tokens: int = 1) -> torch.Tensor:
    """Bicubically resize a learned absolute position embedding to another token grid.

    Args:
        pos_embed: (1, P + Hs * Ws, C); the first P entries (cls, ...) are kept as they are.
        src_hw: the grid (Hs, Ws) the embedding was learned for.
        dst_hw: the target grid (Hd, Wd).
        num_prefix_tokens: P.
    Returns:
        (1, P + Hd * Wd, C), same dtype as the input (interpolation runs in fp32).
    """
    src_hw, dst_hw = tuple(src_hw), tuple(dst_hw)
    n = pos_embed.shape[1] - num_prefix_tokens
    if n != src_hw[0] * src_hw[1]:
        raise ValueError(f'pos_embed has {n} grid entries, which does not match the source grid '
                         f'{src_hw[0]}x{src_hw[1]}')
    if src_hw == dst_hw:
        return pos_embed
    prefix, grid = pos_embed[:, :num_prefix_tokens], pos_embed[:, num_prefix_tokens:]
    dtype = grid.dtype
    grid = grid.float().reshape(1, src_hw[0], src_hw[1], -1).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=dst_hw, mode='bicubic', align_corners=False)
    grid = grid.permute(0, 2, 3, 1).reshape(1, dst_hw[0] * dst_hw[1], -1).to(dtype)
    return torch.cat((prefix, grid), dim=1)


def grid_of(num_tokens: int) -> Tuple[int, int]:
    """The square grid (S, S) holding ``num_tokens`` tokens; ValueError if there is none."""
    s = int(round(num_tokens ** 0.5))
    if s * s != num_tokens:
        raise ValueError(f'{num_tokens} position-embedding entries do not form a square grid')
    return s, s


def resize_patch_kernel(weight: torch.Tensor, patch_size: Tuple[int, int]) -> torch.Tensor:
    """Bicubically resize a patch-embedding conv kernel (C_out, C_in, kh, kw) to ``patch_size``
    (the official EVA 14 -> 16 detector conversion)."""
    patch_size = tuple(patch_size)
    if tuple(weight.shape[-2:]) == patch_size:
        return weight
    dtype = weight.dtype
    out = F.interpolate(weight.float(), size=patch_size, mode='bicubic', align_corners=False)
    return out.to(dtype)
