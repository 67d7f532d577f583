"""Multi-head self-attention of EVA (q and v bias, no k bias), with optional decomposed
relative position bias (ViTDet) and 2D RoPE (EVA-02).

Attention runs through ``torch.nn.functional.scaled_dot_product_attention`` unless the global
switch :func:`set_fused_attn` turns it off; then the plain math path materialises the
attention matrix (useful for debugging and as a reference).
"""
from typing import Callable, Optional, Tuple

import torch
import torch.nn.functional as F
from torch import nn

from .rel_pos import REL_POS_INTERPS, decomposed_rel_pos_bias, fold_rel_pos_into_qkv

_FUSED_ATTN = True
# Rel-pos attention over at least this many tokens folds the bias into q/k channels
# (``fold_rel_pos_into_qkv``) instead of a dense (N, N) mask. Measured on a 2-core CPU, fp32
# forward + backward of one 12-head attention: at 4096 tokens 2.4x less peak process memory and about
# the same time; at 1024 tokens 1.3x faster; at 256 tokens (a 16x16 window) 1.2x slower.
FOLD_REL_POS_MIN_TOKENS = 1024


def set_fused_attn(enable: bool) -> None:
    """Globally switch every eva_mm attention between SDPA (True) and the math path."""
    global _FUSED_ATTN
    _FUSED_ATTN = bool(enable)


def use_fused_attn() -> bool:
    """Whether eva_mm attention currently uses ``scaled_dot_product_attention``."""
    return _FUSED_ATTN


class Attention(nn.Module):
    """EVA self-attention.

    The qkv projection is one ``(3C, C)`` matrix without bias plus learned ``q_bias`` and
    ``v_bias`` (the effective bias is ``cat(q_bias, 0, v_bias)``), as in the official EVA and
    BEiT checkpoints.

    Args:
        dim: token width C.
        num_heads: number of heads; C must be divisible by it.
        qkv_bias: learn q and v biases.
        attn_drop: dropout on the attention probabilities (training only).
        proj_drop: dropout after the output projection.
        sub_ln: EVA-02's sub-LN, a LayerNorm on the attention output before ``proj``.
        norm_eps: eps of that LayerNorm.
        rel_pos_size: ``(H, W)`` of the token grid this attention sees; when given, learns
            decomposed relative position tables ``rel_pos_h (2H-1, D)`` and
            ``rel_pos_w (2W-1, D)`` (ViTDet).
        rel_pos_interp: how the tables are resized for another grid: ``'vitdet'`` (linear)
            or ``'beit'`` (EVA-01's 1536 evaluation; test time only), see ``get_rel_pos``.
    """

    def __init__(self,
                 dim: int,
                 num_heads: int,
                 qkv_bias: bool = True,
                 attn_drop: float = 0.,
                 proj_drop: float = 0.,
                 sub_ln: bool = False,
                 norm_eps: float = 1e-6,
                 rel_pos_size: Optional[Tuple[int, int]] = None,
                 rel_pos_interp: str = 'vitdet') -> None:
        super().__init__()
        if rel_pos_interp not in REL_POS_INTERPS:
            raise ValueError(f'unknown rel_pos_interp {rel_pos_interp!r}; choose from '
                             f'{REL_POS_INTERPS}')
        self.rel_pos_interp = rel_pos_interp
        if dim % num_heads != 0:
            raise ValueError(f'embed_dims ({dim}) must be divisible by num_heads ({num_heads})')
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim ** -0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=False)
        if qkv_bias:
            self.q_bias = nn.Parameter(torch.zeros(dim))
            self.v_bias = nn.Parameter(torch.zeros(dim))
        else:
            self.q_bias = None
            self.v_bias = None
        self.attn_drop = attn_drop
        self.norm = nn.LayerNorm(dim, eps=norm_eps) if sub_ln else nn.Identity()
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        self.rel_pos_size = tuple(rel_pos_size) if rel_pos_size is not None else None
        if self.rel_pos_size is not None:
            h, w = self.rel_pos_size
            self.rel_pos_h = nn.Parameter(torch.zeros(2 * h - 1, self.head_dim))
            self.rel_pos_w = nn.Parameter(torch.zeros(2 * w - 1, self.head_dim))

    def qkv_bias(self) -> Optional[torch.Tensor]:
        """The effective qkv bias ``cat(q_bias, 0, v_bias)``, shape (3C,), or None."""
        if self.q_bias is None:
            return None
        return torch.cat((self.q_bias, torch.zeros_like(self.v_bias), self.v_bias))

    def forward(self,
                x: torch.Tensor,
                hw_shape: Optional[Tuple[int, int]] = None,
                rope: Optional[Callable[[torch.Tensor], torch.Tensor]] = None,
                num_prefix_tokens: int = 0) -> torch.Tensor:
        """
        Args:
            x: (B, N, C) tokens; the first ``num_prefix_tokens`` are cls-like tokens.
            hw_shape: (H, W) of the patch-token grid, needed for relative position bias.
            rope: applies rotary embedding to (B, heads, N - num_prefix_tokens, D) tensors.
        Returns:
            (B, N, C)
        """
        B, N, C = x.shape
        qkv = F.linear(x, self.qkv.weight, self.qkv_bias())
        q, k, v = qkv.reshape(B, N, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        if rope is not None:
            p = num_prefix_tokens
            q = torch.cat((q[:, :, :p], rope(q[:, :, p:])), dim=2).type_as(v)
            k = torch.cat((k[:, :, :p], rope(k[:, :, p:])), dim=2).type_as(v)
        attn_bias = None
        drop = self.attn_drop if self.training else 0.
        if self.rel_pos_size is not None:
            if hw_shape is None or num_prefix_tokens:
                raise ValueError('relative position bias needs hw_shape and no prefix tokens')
            hw = tuple(hw_shape)
            if _FUSED_ATTN and hw[0] * hw[1] >= FOLD_REL_POS_MIN_TOKENS:
                # global attention over a large grid: no dense (N, N) bias, fused SDPA
                q, k, v = fold_rel_pos_into_qkv(q, k, v, self.rel_pos_h, self.rel_pos_w,
                                                hw, hw, self.scale, self.rel_pos_interp)
                x = F.scaled_dot_product_attention(q, k, v, dropout_p=drop,
                                                   scale=self.scale)[..., :self.head_dim]
                return self._out(x)
            attn_bias = decomposed_rel_pos_bias(q, self.rel_pos_h, self.rel_pos_w, hw, hw,
                                                self.rel_pos_interp)
        if _FUSED_ATTN:
            x = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_bias, dropout_p=drop)
        else:
            attn = (q * self.scale) @ k.transpose(-2, -1)
            if attn_bias is not None:
                attn = attn + attn_bias
            attn = attn.softmax(dim=-1)
            if drop:
                attn = F.dropout(attn, p=drop)
            x = attn @ v
        return self._out(x)

    def _out(self, x: torch.Tensor) -> torch.Tensor:
        """(B, heads, N, D) attention output -> (B, N, C) after sub-LN and projection."""
        B, _, N, _ = x.shape
        x = x.transpose(1, 2).reshape(B, N, -1)
        x = self.norm(x)
        return self.proj_drop(self.proj(x))
