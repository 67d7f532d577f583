"""EVAViT3D: the EVA-01 video model (EVA paper, video transfer; official code
``baaivision/EVA``, ``EVA-01/video``) as a thin subclass of :class:`~eva_mm.models.EVAViT`.

What differs from the image model is the token embedding only:

* ``patch_embed``: a ``Conv3d`` with kernel = stride = ``(t, p, p)``; EVA uses ``t = 1``
  (per-frame patches), so frames meet only in the attention. Tokens are flattened
  **time-major**: token ``i`` of frame slot ``s`` is ``s * h * w + i``.
* ``pos_embed``: ONE learned table over cls + all space-time tokens, ``(1, 1 + T' * h * w, C)``
  (row 0 for cls), as the official model. There is no separate temporal table.
* ``cls_token`` prepended, ``[cls; tokens] + pos_embed``, then the inherited
  :class:`~eva_mm.models.EVABlock` s (global joint attention) via :meth:`EVAViT.run_block`.

Geometry changes follow the official loader (``clip_mae.py``):

* image checkpoint -> video: the 2D kernel is repeated over ``t`` and divided by ``t``; the
  image table (resized bicubically to the model's spatial grid if it differs) is tiled per
  frame slot: ``cat(cls, grid.repeat(1, T', 1))``.
* video checkpoint of another frame count / grid (K722 8 frames -> K400 16): the table is
  resized **trilinearly** (``align_corners=False``) over (T', h, w); the cls row is kept.
"""
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.logging import MMLogger
from torch import nn

from ..layers import grid_of, resize_pos_embed
from ..models import EVAViT
from ..models.checkpoint import CheckpointError
from ..registry import MODELS

THW = Tuple[int, int, int]


class PatchEmbed3D(nn.Module):
    """Non-overlapping tubelet embedding (Conv3d, kernel = stride = (t, p, p)).

    Args:
        in_channels: image channels.
        embed_dims: token width C.
        patch_size: spatial patch side p.
        tubelet_size: temporal extent t of one token (EVA: 1).
    """

    def __init__(self, in_channels: int, embed_dims: int, patch_size: int,
                 tubelet_size: int) -> None:
        super().__init__()
        self.patch_size = (patch_size, patch_size)
        self.tubelet_size = tubelet_size
        k = (tubelet_size, patch_size, patch_size)
        self.proj = nn.Conv3d(in_channels, embed_dims, kernel_size=k, stride=k)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, THW]:
        """(B, Cin, T, H, W) -> tokens (B, T/t * H/p * W/p, C) (time-major) and (T/t, H/p, W/p)."""
        if x.dim() != 5:
            raise ValueError(f'EVAViT3D expects clips shaped (B, C, T, H, W), got a '
                             f'{x.dim()}-d tensor {tuple(x.shape)}')
        T, H, W = x.shape[-3:]
        if T % self.tubelet_size:
            raise ValueError(f'clip length {T} is not a multiple of the tubelet size '
                             f'{self.tubelet_size}')
        if H % self.patch_size[0] or W % self.patch_size[1]:
            raise ValueError(f'input size {H}x{W} is not a multiple of the patch size '
                             f'{self.patch_size[0]}')
        x = self.proj(x)
        thw = (x.shape[2], x.shape[3], x.shape[4])
        return x.flatten(2).transpose(1, 2), thw


def resize_pos_embed_3d(pos_embed: torch.Tensor, src_thw: Sequence[int], dst_thw: Sequence[int],
                        num_prefix_tokens: int = 1) -> torch.Tensor:
    """Trilinearly resize a joint space-time position table (official K722 -> K400 rule).

    Args:
        pos_embed: (1, P + Ts * Hs * Ws, C), time-major; the P prefix rows are kept.
        src_thw: (Ts, Hs, Ws) the table was learned for.
        dst_thw: (Td, Hd, Wd).
        num_prefix_tokens: P.
    Returns:
        (1, P + Td * Hd * Wd, C) in the input dtype (interpolation in fp32,
        ``align_corners=False``).
    """
    src_thw, dst_thw = tuple(src_thw), tuple(dst_thw)
    n = pos_embed.shape[1] - num_prefix_tokens
    if n != src_thw[0] * src_thw[1] * src_thw[2]:
        raise ValueError(f'pos_embed has {n} grid rows, which does not match the source grid '
                         f'{src_thw}')
    if src_thw == dst_thw:
        return pos_embed
    prefix, grid = pos_embed[:, :num_prefix_tokens], pos_embed[:, num_prefix_tokens:]
    C = grid.shape[-1]
    grid = grid.float().transpose(1, 2).reshape(1, C, *src_thw)
    grid = F.interpolate(grid, size=dst_thw, mode='trilinear', align_corners=False)
    grid = grid.reshape(1, C, -1).transpose(1, 2).to(pos_embed.dtype)
    return torch.cat((prefix, grid), dim=1)


def inflate_image_pos_embed(pos_embed: torch.Tensor, time_grid: int,
                            num_prefix_tokens: int = 1) -> torch.Tensor:
    """Image table (1, P + h*w, C) -> video table (1, P + time_grid*h*w, C): the grid rows
    tiled once per frame slot (official ``init_mode='eva'``), the prefix rows kept."""
    prefix, grid = pos_embed[:, :num_prefix_tokens], pos_embed[:, num_prefix_tokens:]
    return torch.cat((prefix, grid.repeat(1, time_grid, 1)), dim=1)


@MODELS.register_module()
class EVAViT3D(EVAViT):
    """The EVA-01 video model: per-frame (tubelet) patches + one joint space-time position
    table + joint attention over cls and all space-time tokens (the image blocks, unchanged).

    Args:
        num_frames: clip length T the position table is learned for (EVA: 8 for K722, 16
            for K400/600/700). Other clip lengths / sizes are accepted at run time (the table
            is resized trilinearly, as the official loader resizes it).
        tubelet_size: frames per token t (EVA: 1, per-frame patches).
        out_type: ``'avg_featmap'`` (B, C): mean of the patch tokens (cls excluded) +
            ``fc_norm``, the official pooling; ``'cls_token'`` (B, C); ``'featmap'``
            (B, C, T', H', W'); ``'raw'`` (B, 1 + T'H'W', C).
        final_norm: LayerNorm after the last block (the official video model has none).
        **kwargs: everything else as :class:`EVAViT` (``arch``, ``img_size``, ``patch_size``,
            ``drop_path_rate``, ``with_cp``, ``init_cfg``, ...). Window attention, relative
            position bias and RoPE (2D-grid features) are rejected.

    ``forward`` returns one tensor when ``out_indices`` has one entry (what mmaction2's
    ``Recognizer3D`` passes to its head), else a tuple.
    """

    def __init__(self,
                 num_frames: int = 8,
                 tubelet_size: int = 1,
                 out_type: str = 'avg_featmap',
                 final_norm: bool = False,
                 **kwargs) -> None:
        for key in ('window_block_indexes', 'use_rel_pos'):
            if kwargs.get(key):
                raise ValueError(f'EVAViT3D uses joint global space-time attention; {key} '
                                 f'(a 2D-grid option) is not supported')
        if not kwargs.get('use_abs_pos_emb', True):
            raise ValueError('EVAViT3D needs use_abs_pos_emb=True (the space-time table)')
        if not kwargs.get('with_cls_token', True):
            raise ValueError('EVAViT3D needs with_cls_token=True (row 0 of the table)')
        if not isinstance(tubelet_size, int) or tubelet_size <= 0:
            raise ValueError(f'tubelet_size must be a positive int, got {tubelet_size!r}')
        if not isinstance(num_frames, int) or num_frames <= 0 or num_frames % tubelet_size:
            raise ValueError(f'num_frames ({num_frames!r}) must be a positive multiple of '
                             f'tubelet_size ({tubelet_size})')
        super().__init__(out_type=out_type, final_norm=final_norm, **kwargs)
        if self.arch_settings['use_rope']:
            raise ValueError('EVAViT3D does not support RoPE archs (2D rotary embedding); '
                             'use an EVA-01 arch (t/s/b/l/g or a dict without use_rope)')
        self.num_frames = num_frames
        self.tubelet_size = tubelet_size
        self.pos_thw: THW = (num_frames // tubelet_size, ) + self.pos_grid
        in_channels = self.patch_embed.proj.in_channels
        self.patch_embed = PatchEmbed3D(in_channels, self.embed_dims, self.patch_size,
                                        tubelet_size)
        T, h, w = self.pos_thw
        self.pos_embed = nn.Parameter(torch.zeros(1, self.num_extra_tokens + T * h * w,
                                                  self.embed_dims))
        nn.init.trunc_normal_(self.pos_embed, std=.02)  # as the official model
        self._thw: THW = self.pos_thw
        self._freeze_stages()  # the new patch_embed / pos_embed

    # -- checkpoints ---------------------------------------------------------------------------
    def checkpoint_grid(self, rows: int) -> THW:
        """(T', h, w) of a video checkpoint's table with ``rows`` rows (cls included).

        As the official loader, the spatial grid is taken to be the model's, so
        ``T' = (rows - 1) / (h * w)``; if that does not divide, the frame slots are taken to
        be the model's and the spatial grid must be square. CheckpointError otherwise.
        """
        n = rows - self.num_extra_tokens
        T, h, w = self.pos_thw
        if n > 0 and n % (h * w) == 0:
            return n // (h * w), h, w
        if n > 0 and n % T == 0:
            try:
                return (T, ) + grid_of(n // T)
            except ValueError:
                pass
        raise CheckpointError(f'pos_embed of the video checkpoint has {rows} rows; it is '
                              f'neither 1 + T x {h}x{w} (this model\'s grid) nor '
                              f'1 + {T} x a square grid')

    def adapt_checkpoint(self, state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        """Image or video checkpoint (EVAViT keys) -> this model's geometry.

        * 2D patch kernel (C, Cin, p', p') (an image checkpoint): resized to p (as images),
          repeated over the tubelet and divided by t (the official inflation).
        * 3D kernel of another (t', p', p'): summed over t' (its static-clip 2D equivalent),
          then as a 2D kernel.
        * ``pos_embed`` of an image checkpoint (2D kernel): resized to the spatial grid
          (bicubic, as images), then tiled over the frame slots; of a video checkpoint:
          resized trilinearly to (T', h, w) (see :meth:`checkpoint_grid`).
        * an image checkpoint's final ``norm`` is dropped when this model has none (official:
          ``fc_norm`` keeps its init).
        """
        logger = MMLogger.get_current_instance()
        sd = dict(state_dict)
        w = sd.get('patch_embed.proj.weight')
        is_video = w is not None and w.dim() == 5
        t = self.tubelet_size
        if is_video and tuple(w.shape[2:]) != (t, ) + self.patch_embed.patch_size:
            logger.info(f'EVAViT3D checkpoint: 3D patch kernel {tuple(w.shape[2:])} collapsed '
                        f'over time (sum) before re-inflation')
            sd['patch_embed.proj.weight'] = w.sum(dim=2)
        pos = sd.pop('pos_embed', None)
        sd = super().adapt_checkpoint(sd)  # spatial kernel size
        w = sd.get('patch_embed.proj.weight')
        if w is not None and w.dim() == 4:
            sd['patch_embed.proj.weight'] = (w.unsqueeze(2).repeat(1, 1, t, 1, 1) / t).to(w.dtype)
            logger.info(f'EVAViT3D checkpoint: 2D patch kernel inflated to {t} frame(s)')
        if not is_video and self.norm is None:
            # official init_mode='eva': the image model's final norm is not loaded (the video
            # model has none) and fc_norm keeps its init (not the image norm, as EVAViT would)
            for k in ('norm.weight', 'norm.bias'):
                if sd.pop(k, None) is not None:
                    logger.info(f'EVAViT3D checkpoint: image {k} not used (fc_norm keeps its '
                                f'init, as the official video init)')
        if pos is None:
            return sd
        P, (T, h, w_) = self.num_extra_tokens, self.pos_thw
        if is_video:
            src = self.checkpoint_grid(pos.shape[1])
            sd['pos_embed'] = resize_pos_embed_3d(pos, src, self.pos_thw, P)
            if src != self.pos_thw:
                logger.info(f'EVAViT3D checkpoint: space-time table {src} -> {self.pos_thw} '
                            f'(trilinear)')
        else:
            try:
                src = grid_of(pos.shape[1] - P)
            except ValueError as e:
                raise CheckpointError(f'pos_embed of the image checkpoint: {e}') from e
            pos = resize_pos_embed(pos, src, (h, w_), P)
            sd['pos_embed'] = inflate_image_pos_embed(pos, T, P)
            logger.info(f'EVAViT3D checkpoint: image table {src} tiled over {T} frame slot(s)')
        return sd

    # -- forward -------------------------------------------------------------------------------
    def embed(self, x: torch.Tensor, mask: Optional[torch.Tensor] = None
              ) -> Tuple[torch.Tensor, Tuple[int, int]]:
        """Clips (B, Cin, T, H, W) -> tokens ``[cls; patches] + pos_embed`` (B, 1 + T'H'W', C)
        and the flattened grid (T'*H', W') handed to the blocks (global attention ignores it).

        ``mask`` (B, T'H'W') bool replaces masked tokens by the [MASK] token."""
        x, thw = self.patch_embed(x)
        self._thw = thw
        if mask is not None:
            x = self.apply_mask_token(x, mask)
        cls = self.cls_token.expand(x.shape[0], -1, -1).to(x.dtype)
        pos = resize_pos_embed_3d(self.pos_embed, self.pos_thw, thw, self.num_extra_tokens)
        x = torch.cat((cls, x), dim=1) + pos.to(x.dtype)
        return x, (thw[0] * thw[1], thw[2])

    def format_output(self, x: torch.Tensor, hw: Tuple[int, int]) -> torch.Tensor:
        """Tokens (B, 1 + T'H'W', C) -> ``out_type`` ('featmap': (B, C, T', H', W'))."""
        if self.out_type == 'featmap':
            T, H, W = self._thw
            patches = x[:, self.num_prefix_tokens:]
            B, _, C = patches.shape
            return patches.transpose(1, 2).reshape(B, C, T, H, W).contiguous()
        return super().format_output(x, hw)

    def forward(self, x: torch.Tensor, mask: Optional[torch.Tensor] = None
                ) -> Union[torch.Tensor, Tuple[torch.Tensor, ...]]:
        """
        Args:
            x: (B, Cin, T, H, W) clips (``Recognizer3D`` flattens clips x crops into B).
            mask: optional (B, T'H'W') bool.
        Returns:
            the ``out_type`` features of the single ``out_indices`` entry, or a tuple of them.
        """
        outs = super().forward(x, mask)
        return outs[0] if len(outs) == 1 else outs


__all__ = ['EVAViT3D', 'PatchEmbed3D', 'inflate_image_pos_embed', 'resize_pos_embed_3d']
