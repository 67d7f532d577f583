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


def _rel_pos_terms(q: torch.Tensor, rel_pos_h: torch.Tensor, rel_pos_w: torch.Tensor,
                   q_hw: Tuple[int, int], k_hw: Tuple[int, int]
                   ) -> Tuple[torch.Tensor, torch.Tensor]:
    """(B, heads, qh, qw, kh) height and (B, heads, qh, qw, kw) width terms q . R."""
    qh, qw = q_hw
    kh, kw = k_hw
    Rh = get_rel_pos(qh, kh, rel_pos_h).to(q.dtype)
    Rw = get_rel_pos(qw, kw, rel_pos_w).to(q.dtype)
    B, nh, _, d = q.shape
    r_q = q.reshape(B, nh, qh, qw, d)
    return (torch.einsum('bnhwc,hkc->bnhwk', r_q, Rh),
            torch.einsum('bnhwc,wkc->bnhwk', r_q, Rw))


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
    B, nh = q.shape[:2]
    rel_h, rel_w = _rel_pos_terms(q, rel_pos_h, rel_pos_w, q_hw, k_hw)
    bias = rel_h[..., :, None] + rel_w[..., None, :]
    return bias.reshape(B, nh, q_hw[0] * q_hw[1], k_hw[0] * k_hw[1])


def fold_rel_pos_into_qkv(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                          rel_pos_h: torch.Tensor, rel_pos_w: torch.Tensor,
                          q_hw: Tuple[int, int], k_hw: Tuple[int, int], scale: float
                          ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Fold the decomposed rel-pos bias into extra q/k channels, so attention needs no dense
    (N, N) bias and SDPA's fused (flash) kernel can run.

    ``scale * q'.k'`` equals ``scale * q.k + rel_h[i, row(j)] + rel_w[i, col(j)]`` with
    ``q' = [q, rel_h / scale, rel_w / scale]`` and ``k' = [k, onehot(row(j)), onehot(col(j))]``;
    ``v`` is zero-padded to the same width. Call SDPA with ``scale=scale`` and keep the first
    ``D`` output channels.

    Args:
        q, k, v: (B, heads, N, D) with N = qh * qw = kh * kw (unscaled q).
    Returns:
        q', k', v': (B, heads, N, D + kh + kw)
    """
    B, nh, nq, d = q.shape
    kh, kw = k_hw
    rel_h, rel_w = _rel_pos_terms(q, rel_pos_h, rel_pos_w, q_hw, k_hw)
    q2 = torch.cat((q, rel_h.reshape(B, nh, nq, kh) / scale,
                    rel_w.reshape(B, nh, nq, kw) / scale), dim=-1)
    rows = torch.eye(kh, dtype=k.dtype, device=k.device)[:, None, :].expand(kh, kw, kh)
    cols = torch.eye(kw, dtype=k.dtype, device=k.device)[None, :, :].expand(kh, kw, kw)
    onehot = torch.cat((rows, cols), dim=-1).reshape(1, 1, kh * kw, kh + kw)
    k2 = torch.cat((k, onehot.expand(B, nh, -1, -1)), dim=-1)
    v2 = F.pad(v, (0, kh + kw))
    return q2, k2, v2
