"""Image to patch tokens."""
from typing import Tuple

import torch
from torch import nn


class PatchEmbed(nn.Module):
    """Non-overlapping conv patch embedding.

    Args:
        in_channels: image channels.
        embed_dims: token width C.
        patch_size: patch side P (14 for the EVA checkpoints, 16 for the ViTDet detector).
    """

    def __init__(self, in_channels: int = 3, embed_dims: int = 768, patch_size: int = 16) -> None:
        super().__init__()
        self.patch_size = (patch_size, patch_size)
        self.proj = nn.Conv2d(in_channels, embed_dims, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, Tuple[int, int]]:
        """(B, Cin, H, W) -> tokens (B, H/P * W/P, C) and the grid (H/P, W/P).

        H and W must be multiples of P (pad first; the detector and segmentor data
        preprocessors pad to a multiple of the patch size)."""
        H, W = x.shape[-2:]
        if H % self.patch_size[0] or W % self.patch_size[1]:
            raise ValueError(f'input size {H}x{W} is not a multiple of the patch size '
                             f'{self.patch_size[0]}; pad it first')
        x = self.proj(x)
        hw = (x.shape[2], x.shape[3])
        return x.flatten(2).transpose(1, 2), hw
