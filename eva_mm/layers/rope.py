"""2D rotary position embedding of EVA-02 (per-axis frequencies, interleaved pairs)."""
from typing import Dict, Tuple

import torch
from torch import nn


def rotate_pairs(x: torch.Tensor) -> torch.Tensor:
    """(..., D) -> (..., D) mapping each pair (a, b) to (-b, a)."""
    return torch.stack((-x[..., 1::2], x[..., ::2]), dim=-1).reshape(x.shape)


class RotaryEmbedding2D(nn.Module):
    """Rotary embedding over a 2D token grid.

    Half of the head dimension rotates with the row coordinate, half with the column
    coordinate. Coordinates are scaled to ``ref_grid`` (the pre-training grid), so the same
    frequencies serve any input size.

    Args:
        head_dim: per-head width D (multiple of 4).
        ref_grid: grid (Hr, Wr) the model was pre-trained at (16x16 for 224 / patch 14).
        theta: frequency base.
    """

    def __init__(self, head_dim: int, ref_grid: Tuple[int, int] = (16, 16),
                 theta: float = 10000.) -> None:
        super().__init__()
        if head_dim % 4:
            raise ValueError(f'RoPE needs a head dim divisible by 4, got {head_dim}')
        self.head_dim = head_dim
        self.ref_grid = tuple(ref_grid)
        half = head_dim // 2
        freqs = 1. / (theta**(torch.arange(0, half, 2)[:half // 2].float() / half))
        self.register_buffer('freqs', freqs, persistent=False)
        self._cache: Dict[Tuple, Tuple[torch.Tensor, torch.Tensor]] = {}

    def sin_cos(self, hw: Tuple[int, int], device: torch.device) -> Tuple[torch.Tensor, torch.Tensor]:
        """sin and cos tables, each (H * W, D), for grid ``hw``."""
        key = (tuple(hw), str(device))
        if key not in self._cache:
            axes = []
            for n, ref in zip(hw, self.ref_grid):
                t = torch.arange(n, dtype=torch.float32, device=device) / n * ref
                axes.append((t[:, None] * self.freqs.to(device)[None]).repeat_interleave(2, -1))
            fh, fw = axes
            H, W = hw
            ang = torch.cat((fh[:, None, :].expand(H, W, -1), fw[None, :, :].expand(H, W, -1)), -1)
            ang = ang.reshape(H * W, self.head_dim)
            self._cache[key] = (ang.sin(), ang.cos())
        return self._cache[key]

    def rotator(self, hw: Tuple[int, int], device: torch.device):
        """A function applying the rotation to (B, heads, H * W, D) tensors."""
        sin, cos = self.sin_cos(hw, device)

        def apply(x: torch.Tensor) -> torch.Tensor:
            return x * cos + rotate_pairs(x) * sin

        return apply
