"""Decomposed relative position bias (ViTDet / MViTv2)."""
from typing import Tuple

import torch
import torch.nn.functional as F


REL_POS_INTERPS = ('vitdet', 'beit')
# ratio of BEiT's geometric sampling of the source table (EVA-01 detector, ``interp_type="beit"``)
_BEIT_GEOMETRIC_RATIO = 1.0903078


def resize_rel_pos_beit(rel_pos: torch.Tensor, length: int) -> torch.Tensor:
    """Resize a (L, D) relative-position table to ``length`` rows as EVA-01's detector does at
    its 1536 evaluation (``interp_type="beit"``): the L source rows sit on a geometric grid
    (offsets 0, +-1, +-(1 + r), +-(1 + r + r^2), ..., r = 1.0903078), the targets on the
    integer grid -length//2 .. length//2, and each channel is interpolated by a cubic spline
    (extrapolated at the ends). Computed in float64 by scipy, not differentiable (the
    official code detaches it too): a test-time resize.

    Returns:
        (length, D) in ``rel_pos``'s dtype and device.
    """
    import numpy as np
    from scipy.interpolate import interp1d
    src = rel_pos.shape[0]
    offsets = np.cumsum([1.0] + [_BEIT_GEOMETRIC_RATIO ** (i + 1) for i in range(src // 2 - 1)])
    x = np.concatenate((-offsets[::-1], [0.0], offsets))
    if len(x) != src:
        raise ValueError(f'beit rel-pos resize needs an odd table length, got {src}')
    half = length // 2
    dst = np.arange(-half, half + 0.1, 1.0)
    table = rel_pos.detach().cpu().double().numpy()
    out = interp1d(x, table, kind='cubic', axis=0, fill_value='extrapolate')(dst)
    # the official code rounds each channel to float32 before use
    return torch.from_numpy(out).float().to(device=rel_pos.device, dtype=rel_pos.dtype)


def get_rel_pos(q_size: int, k_size: int, rel_pos: torch.Tensor,
                interp: str = 'vitdet') -> torch.Tensor:
    """Relative position embeddings for every (query, key) pair along one axis.

    Args:
        q_size: query length along the axis.
        k_size: key length along the axis.
        rel_pos: (L, D) learned table; resized when L != 2 * max(q, k) - 1: linearly
            (``interp='vitdet'``) or by :func:`resize_rel_pos_beit` (``'beit'``).
    Returns:
        (q_size, k_size, D)
    """
    max_rel_dist = 2 * max(q_size, k_size) - 1
    if rel_pos.shape[0] != max_rel_dist:
        if interp == 'beit':
            rel_pos = resize_rel_pos_beit(rel_pos, max_rel_dist)
        elif interp == 'vitdet':
            rel_pos = F.interpolate(rel_pos.reshape(1, rel_pos.shape[0], -1).permute(0, 2, 1),
                                    size=max_rel_dist, mode='linear')
            rel_pos = rel_pos.reshape(-1, max_rel_dist).permute(1, 0)
        else:
            raise ValueError(f'unknown rel-pos interpolation {interp!r}; choose from '
                             f'{REL_POS_INTERPS}')
    q_coords = torch.arange(q_size, device=rel_pos.device)[:, None] * max(k_size / q_size, 1.0)
    k_coords = torch.arange(k_size, device=rel_pos.device)[None, :] * max(q_size / k_size, 1.0)
    rel = (q_coords - k_coords) + (k_size - 1) * max(q_size / k_size, 1.0)
    return rel_pos[rel.long()]


def _rel_pos_terms(q: torch.Tensor, rel_pos_h: torch.Tensor, rel_pos_w: torch.Tensor,
                   q_hw: Tuple[int, int], k_hw: Tuple[int, int], interp: str = 'vitdet'
                   ) -> Tuple[torch.Tensor, torch.Tensor]:
    """(B, heads, qh, qw, kh) height and (B, heads, qh, qw, kw) width terms q . R."""
    qh, qw = q_hw
    kh, kw = k_hw
    Rh = get_rel_pos(qh, kh, rel_pos_h, interp).to(q.dtype)
    Rw = get_rel_pos(qw, kw, rel_pos_w, interp).to(q.dtype)
    B, nh, _, d = q.shape
    r_q = q.reshape(B, nh, qh, qw, d)
    return (torch.einsum('bnhwc,hkc->bnhwk', r_q, Rh),
            torch.einsum('bnhwc,wkc->bnhwk', r_q, Rw))


def decomposed_rel_pos_bias(q: torch.Tensor, rel_pos_h: torch.Tensor, rel_pos_w: torch.Tensor,
                            q_hw: Tuple[int, int], k_hw: Tuple[int, int],
                            interp: str = 'vitdet') -> torch.Tensor:
    """Additive attention bias of decomposed relative positions.

    Args:
        q: (B, heads, qh * qw, D) queries (unscaled).
        rel_pos_h: (Lh, D) table along height; rel_pos_w: (Lw, D) along width.
        q_hw, k_hw: query and key grids.
        interp: table resize when the grid differs from the learned one (:func:`get_rel_pos`).
    Returns:
        (B, heads, qh * qw, kh * kw) bias to add to the attention logits.
    """
    B, nh = q.shape[:2]
    rel_h, rel_w = _rel_pos_terms(q, rel_pos_h, rel_pos_w, q_hw, k_hw, interp)
    bias = rel_h[..., :, None] + rel_w[..., None, :]
    return bias.reshape(B, nh, q_hw[0] * q_hw[1], k_hw[0] * k_hw[1])


def fold_rel_pos_into_qkv(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                          rel_pos_h: torch.Tensor, rel_pos_w: torch.Tensor,
                          q_hw: Tuple[int, int], k_hw: Tuple[int, int], scale: float,
                          interp: str = 'vitdet'
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
    rel_h, rel_w = _rel_pos_terms(q, rel_pos_h, rel_pos_w, q_hw, k_hw, interp)
    q2 = torch.cat((q, rel_h.reshape(B, nh, nq, kh) / scale,
                    rel_w.reshape(B, nh, nq, kw) / scale), dim=-1)
    rows = torch.eye(kh, dtype=k.dtype, device=k.device)[:, None, :].expand(kh, kw, kh)
    cols = torch.eye(kw, dtype=k.dtype, device=k.device)[None, :, :].expand(kh, kw, kw)
    onehot = torch.cat((rows, cols), dim=-1).reshape(1, 1, kh * kw, kh + kw)
    k2 = torch.cat((k, onehot.expand(B, nh, -1, -1)), dim=-1)
    v2 = F.pad(v, (0, kh + kw))
    return q2, k2, v2
