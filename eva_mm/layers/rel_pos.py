"""Decomposed relative position bias (ViTDet / MViTv2)."""
from typing import Tuple

import torch
import torch.nn.functional as F


def get_rel_pos(q_size: int, k_size: int, rel_pos: torch.Tensor) -> torch.Tensor:
    """Relative position embeddings for every (query, key) pair along one axis.

    Args:
        q_size: query length along the axis.
        k_size: key length along the axis.
        rel_pos: (L, D) learned table; resized linearly when L != 2 * max(q, k) - 1.
    Returns:
        (q_size, k_size, D)
    """
    max_rel_dist = 2 * max(q_size, k_size) - 1
    if rel_pos.shape[0] != max_rel_dist:
        rel_pos = F.interpolate(rel_pos.reshape(1, rel_pos.shape[0], -1).permute(0, 2, 1),
                                size=max_rel_dist, mode='linear')
        rel_pos = rel_pos.reshape(-1, max_rel_dist).permute(1, 0)
    q_coords = torch.arange(q_size, device=rel_pos.device)[:, None] * max(k_size / q_size, 1.0)
    k_coords = torch.arange(k_size, device=rel_pos.device)[None, :] * max(q_size / k_size, 1.0)
    rel = (q_coords - k_coords) + (k_size - 1) * max(q_size / k_size, 1.0)
    return rel_pos[rel.long()]


def decomposed_rel_pos_bias(q: torch.Tensor, rel_pos_h: torch.Tensor, rel_pos_w: torch.Tensor,
                            q_hw: Tuple[int, int], k_hw: Tuple[int, int]) -> torch.Tensor:
    """Additive attention bias of decomposed relative positions.

    Args:
        q: (B, heads, qh * qw, D) queries (unscaled).
        rel_pos_h: (Lh, D) table along height; rel_pos_w: (Lw, D) along width.
        q_hw, k_hw: query and key grids.
    Returns:
        (B, heads, qh * qw, kh * kw) bias to add to the attention logits.
    """
    qh, qw = q_hw
    kh, kw = k_hw
    Rh = get_rel_pos(qh, kh, rel_pos_h).to(q.dtype)
    Rw = get_rel_pos(qw, kw, rel_pos_w).to(q.dtype)
    B, nh, _, d = q.shape
    r_q = q.reshape(B, nh, qh, qw, d)
    rel_h = torch.einsum('bnhwc,hkc->bnhwk', r_q, Rh)
    rel_w = torch.einsum('bnhwc,wkc->bnhwk', r_q, Rw)
    bias = rel_h[..., :, None] + rel_w[..., None, :]
    return bias.reshape(B, nh, qh * qw, kh * kw)
