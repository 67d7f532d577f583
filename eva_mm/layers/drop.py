"""Stochastic depth."""
import torch
from torch import nn


class DropPath(nn.Module):
    """Drop whole residual branches per sample with probability ``p`` (training only)."""

    def __init__(self, p: float = 0.) -> None:
        super().__init__()
        self.p = float(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.p == 0. or not self.training:
            return x
        keep = 1. - self.p
        mask = x.new_empty((x.shape[0], ) + (1, ) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask.div_(keep)

    def extra_repr(self) -> str:
        return f'p={self.p}'
