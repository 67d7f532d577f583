"""EVAViT3D: the EVA ViT on videos with joint space-time attention (EVA paper, video transfer).

Nothing video-specific sits inside the blocks: a clip (B, C, T, H, W) is cut into tubelets
(t x p x p) by a Conv3d, every token gets the shared *spatial* position embedding of its
(h, w) cell (the inherited image ``pos_embed``, resized) plus a learned *temporal* embedding
of its frame slot (``time_embed``, linearly resized), and cls + T'*H'*W' tokens run through
the inherited :class:`~eva_mm.models.EVABlock` s via :meth:`EVAViT.run_block`.

Loading an image checkpoint inflates the 2D patch kernel (repeat over t, divide by t) and sets
``time_embed`` to zeros, so a static clip yields exactly the image model's patch tokens and
(with zero temporal embedding) the image model's cls / mean-pooled features.
"""
from typing import Dict, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.logging import MMLogger
from torch import nn

from ..layers import resize_pos_embed
from ..models import EVAViT
from ..registry import MODELS


class PatchEmbed3D(nn.Module):
    """Non-overlapping tubelet embedding (Conv3d, kernel = stride = (t, p, p)).

    Args:
        in_channels: image channels.
        embed_dims: token width C.
        patch_size: spatial patch side p.
        tubelet_size: temporal extent t of one token.
    """

    def __init__(self, in_channels: int, embed_dims: int, patch_size: int,
                 tubelet_size: int) -> None:
        super().__init__()
        self.patch_size = (patch_size, patch_size)
        self.tubelet_size = tubelet_size
        k = (tubelet_size, patch_size, patch_size)
        self.proj = nn.Conv3d(in_channels, embed_dims, kernel_size=k, stride=k)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, Tuple[int, int, int]]:
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


def resize_time_embed(time_embed: torch.Tensor, dst_len: int) -> torch.Tensor:
    """Linearly resize a learned temporal embedding (1, Ts, C) -> (1, dst_len, C) (fp32 math)."""
    if time_embed.shape[1] == dst_len:
        return time_embed
    dtype = time_embed.dtype
    t = F.interpolate(time_embed.float().transpose(1, 2), size=dst_len, mode='linear',
                      align_corners=False)
    return t.transpose(1, 2).to(dtype)


@MODELS.register_module()
class EVAViT3D(EVAViT):
    """EVA ViT for clips: tubelet embedding + spatial and temporal position embeddings +
    joint attention over cls and all space-time tokens (the image blocks, unchanged).

    Args:
        num_frames: clip length T the temporal embedding is learned for (EVA: 8 for K722,
            16 for K400/600/700); other lengths are accepted (linear interpolation).
        tubelet_size: frames per token t (1: per-frame patches, as EVA).
        out_type: ``'cls_token'`` (B, C) or ``'avg_featmap'`` (B, C) (mean of all space-time
            patch tokens + ``fc_norm``) for mmaction2's ``TimeSformerHead``; ``'featmap'``
            (B, C, T', H', W') for ``I3DHead``; ``'raw'`` (B, 1 + T'H'W', C).
        **kwargs: everything else as :class:`EVAViT` (``arch``, ``img_size``, ``patch_size``,
            ``drop_path_rate``, ``with_cp``, ``init_cfg``, ...). Window attention,
            relative position bias and RoPE (2D-only features) are rejected.

    ``forward`` returns one tensor when ``out_indices`` has one entry (what mmaction2's
    ``Recognizer3D`` passes to its head), else a tuple.
    """

    def __init__(self,
                 num_frames: int = 8,
                 tubelet_size: int = 1,
                 out_type: str = 'cls_token',
                 **kwargs) -> None:
        for key in ('window_block_indexes', 'use_rel_pos'):
            if kwargs.get(key):
                raise ValueError(f'EVAViT3D uses joint global space-time attention; {key} '
                                 f'(a 2D-grid option) is not supported')
        if not kwargs.get('use_abs_pos_emb', True):
            raise ValueError('EVAViT3D needs use_abs_pos_emb=True (spatial position embedding)')
        if not isinstance(tubelet_size, int) or tubelet_size <= 0:
            raise ValueError(f'tubelet_size must be a positive int, got {tubelet_size!r}')
        if not isinstance(num_frames, int) or num_frames <= 0 or num_frames % tubelet_size:
            raise ValueError(f'num_frames ({num_frames!r}) must be a positive multiple of '
                             f'tubelet_size ({tubelet_size})')
        self.time_embed = None  # set below; _freeze_stages (run by super) looks for it
        super().__init__(out_type=out_type, **kwargs)
        if self.arch_settings['use_rope']:
            raise ValueError('EVAViT3D does not support RoPE archs (2D rotary embedding); '
                             'use an EVA-01 arch (t/s/b/l/g or a dict without use_rope)')
        self.num_frames = num_frames
        self.tubelet_size = tubelet_size
        self.time_grid = num_frames // tubelet_size
        in_channels = self.patch_embed.proj.in_channels
        self.patch_embed = PatchEmbed3D(in_channels, self.embed_dims, self.patch_size,
                                        tubelet_size)
        # random, as pos_embed: with zeros the model is blind to frame order at the start (joint
        # attention is permutation invariant), a symmetry training from scratch escapes only
        # slowly. Loading an image checkpoint sets it to zeros (see adapt_checkpoint).
        self.time_embed = nn.Parameter(torch.zeros(1, self.time_grid, self.embed_dims))
        nn.init.trunc_normal_(self.time_embed, std=.02)
        self._freeze_stages()

    # -- checkpoints ---------------------------------------------------------------------------
    def adapt_checkpoint(self, state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        """Image or video checkpoint -> this model's geometry.

        * 2D patch kernel (C, Cin, p', p'): resized to p (as images), then inflated over the
          tubelet: repeated t times and divided by t (a static clip gives the image tokens).
        * 3D kernel of another (t', p'): summed over t' (its static-clip equivalent 2D kernel),
          then as a 2D kernel.
        * ``pos_embed``: resized to the spatial grid (bicubic, as images).
        * ``time_embed``: linearly resized to T/t slots; absent (image checkpoint): zeros.
        """
        logger = MMLogger.get_current_instance()
        sd = dict(state_dict)
        w = sd.get('patch_embed.proj.weight')
        t = self.tubelet_size
        if w is not None and w.dim() == 5 and tuple(w.shape[2:]) != (t, ) + self.patch_embed.patch_size:
            logger.info(f'EVAViT3D checkpoint: 3D patch kernel {tuple(w.shape[2:])} collapsed '
                        f'over time (sum) before re-inflation')
            sd['patch_embed.proj.weight'] = w = w.sum(dim=2)
        sd = super().adapt_checkpoint(sd)  # spatial kernel + position grid
        w = sd.get('patch_embed.proj.weight')
        if w is not None and w.dim() == 4:
            sd['patch_embed.proj.weight'] = (w.unsqueeze(2).repeat(1, 1, t, 1, 1) / t).to(w.dtype)
            logger.info(f'EVAViT3D checkpoint: 2D patch kernel inflated to {t} frame(s)')
        te = sd.get('time_embed')
        if te is None:
            if 'pos_embed' in sd:  # an image checkpoint
                sd['time_embed'] = torch.zeros_like(self.time_embed.data)
                logger.info('EVAViT3D checkpoint: no temporal embedding (image checkpoint); '
                            'time_embed set to zeros')
        elif te.shape[1] != self.time_grid:
            sd['time_embed'] = resize_time_embed(te, self.time_grid)
            logger.info(f'EVAViT3D checkpoint: temporal embedding {te.shape[1]} -> '
                        f'{self.time_grid} slots')
        return sd

    # -- layer decay / freezing ------------------------------------------------------------------
    def get_layer_depth(self, param_name: str, prefix: str = '') -> Tuple[int, int]:
        """As :meth:`EVAViT.get_layer_depth`; ``time_embed`` is an embedding (layer 0)."""
        if param_name.startswith(prefix) and param_name[len(prefix):].startswith('time_embed'):
            return 0, self.num_layers + 2
        return super().get_layer_depth(param_name, prefix)

    def _freeze_stages(self) -> None:
        super()._freeze_stages()
        if self.frozen_stages >= 0 and getattr(self, 'time_embed', None) is not None:
            self.time_embed.requires_grad = False

    # -- forward -------------------------------------------------------------------------------
    def embed(self, x: torch.Tensor, mask: Optional[torch.Tensor] = None
              ) -> Tuple[torch.Tensor, Tuple[int, int]]:
        """Clips (B, Cin, T, H, W) -> tokens (B, 1 + T'H'W', C) and the flattened grid
        (T'*H', W') handed to the blocks (global attention ignores it).

        ``mask`` (B, T'H'W') bool replaces masked tubelets by the [MASK] token."""
        x, (T, H, W) = self.patch_embed(x)
        self._thw = (T, H, W)
        if mask is not None:
            x = self.apply_mask_token(x, mask)
        pos = resize_pos_embed(self.pos_embed, self.pos_grid, (H, W), self.num_extra_tokens)
        space = pos[:, self.num_extra_tokens:]  # (1, H*W, C)
        time = resize_time_embed(self.time_embed, T)  # (1, T, C)
        st = (space.unsqueeze(1) + time.unsqueeze(2)).flatten(1, 2)  # (1, T*H*W, C)
        x = x + st.to(x.dtype)
        if self.cls_token is not None:
            cls = (self.cls_token + pos[:, :self.num_extra_tokens]).to(x.dtype)
            x = torch.cat((cls.expand(x.shape[0], -1, -1), x), dim=1)
        return x, (T * H, W)

    def format_output(self, x: torch.Tensor, hw: Tuple[int, int]) -> torch.Tensor:
        """Tokens (B, P + T'H'W', C) -> ``out_type`` ('featmap': (B, C, T', H', W'))."""
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


__all__ = ['EVAViT3D', 'PatchEmbed3D', 'resize_time_embed']
