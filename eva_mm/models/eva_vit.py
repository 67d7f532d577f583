"""EVA ViT: the one backbone behind every eva_mm task.

Order as in timm's model files: block -> model. Attention, MLP, patch/position embedding,
window partition, relative position bias and RoPE live in :mod:`eva_mm.layers`.
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.utils.checkpoint as cp
from mmengine.logging import MMLogger
from mmengine.model import BaseModule
from torch import nn

from ..layers import (Attention, DropPath, Mlp, PatchEmbed, RotaryEmbedding2D, SwiGLU,
                      resize_pos_embed, window_partition, window_unpartition)
from ..registry import MODELS


class EVABlock(nn.Module):
    """Pre-LN transformer block (optionally window attention, rel-pos, RoPE, layer scale).

    Args:
        dim: token width C.
        num_heads: attention heads.
        mlp_hidden: hidden width of the MLP.
        qkv_bias: q and v biases.
        drop_path: stochastic-depth rate of this block.
        norm_eps: LayerNorm eps.
        mlp_type: ``'gelu'`` (EVA-01) or ``'swiglu'`` (EVA-02).
        attn_norm: EVA-02 sub-LN on the attention output (``attn.norm``).
        mlp_norm: EVA-02 sub-LN on the MLP hidden features (``mlp.norm``).
        layer_scale_init_value: > 0 learns per-channel ``gamma_1``/``gamma_2``.
        window_size: > 0 runs attention inside non-overlapping S x S windows.
        rel_pos_size: grid the decomposed relative position tables are learned for, or None.
        rel_pos_interp: resize of those tables for another grid (``'vitdet'`` / ``'beit'``).
    """

    def __init__(self,
                 dim: int,
                 num_heads: int,
                 mlp_hidden: int,
                 qkv_bias: bool = True,
                 drop_path: float = 0.,
                 norm_eps: float = 1e-6,
                 mlp_type: str = 'gelu',
                 attn_norm: bool = False,
                 mlp_norm: bool = False,
                 layer_scale_init_value: float = 0.,
                 window_size: int = 0,
                 rel_pos_size: Optional[Tuple[int, int]] = None,
                 rel_pos_interp: str = 'vitdet') -> None:
        super().__init__()
        self.window_size = window_size
        self.norm1 = nn.LayerNorm(dim, eps=norm_eps)
        self.attn = Attention(dim, num_heads, qkv_bias=qkv_bias, sub_ln=attn_norm, norm_eps=norm_eps,
                              rel_pos_size=rel_pos_size, rel_pos_interp=rel_pos_interp)
        self.drop_path = DropPath(drop_path)
        self.norm2 = nn.LayerNorm(dim, eps=norm_eps)
        mlp_cls = {'gelu': Mlp, 'swiglu': SwiGLU}[mlp_type]
        self.mlp = mlp_cls(dim, mlp_hidden, sub_ln=mlp_norm, norm_eps=norm_eps)
        if layer_scale_init_value > 0:
            self.gamma_1 = nn.Parameter(layer_scale_init_value * torch.ones(dim))
            self.gamma_2 = nn.Parameter(layer_scale_init_value * torch.ones(dim))
        else:
            self.gamma_1 = self.gamma_2 = None

    def forward(self,
                x: torch.Tensor,
                hw_shape: Tuple[int, int],
                rope: Optional[RotaryEmbedding2D] = None,
                num_prefix_tokens: int = 0) -> torch.Tensor:
        """(B, P + H*W, C) -> (B, P + H*W, C); window blocks need P == 0."""
        y = self.norm1(x)
        if self.window_size > 0:
            if num_prefix_tokens:
                raise ValueError('window attention needs with_cls_token=False')
            B, N, C = y.shape
            H, W = hw_shape
            win, pad_hw = window_partition(y.view(B, H, W, C), self.window_size)
            ws = (self.window_size, self.window_size)
            rot = rope.rotator(ws, y.device) if rope is not None else None
            win = self.attn(win.view(-1, ws[0] * ws[1], C), ws, rot)
            y = window_unpartition(win.view(-1, ws[0], ws[1], C), self.window_size, pad_hw,
                                   (H, W)).view(B, N, C)
        else:
            rot = rope.rotator(hw_shape, y.device) if rope is not None else None
            y = self.attn(y, hw_shape, rot, num_prefix_tokens)
        if self.gamma_1 is not None:
            y = self.gamma_1 * y
        x = x + self.drop_path(y)
        y = self.mlp(self.norm2(x))
        if self.gamma_2 is not None:
            y = self.gamma_2 * y
        return x + self.drop_path(y)


@MODELS.register_module()
class EVAViT(BaseModule):
    """The EVA vision transformer.

    Args:
        arch: a preset name from :attr:`arch_zoo` (or an alias) or a dict with the keys
            ``embed_dims, num_layers, num_heads, feedforward_channels`` and optionally
            ``mlp_type`` ('gelu'/'swiglu'), ``attn_norm``, ``mlp_norm`` (sub-LN) and
            ``use_rope`` (EVA-02).
        img_size: the pre-training image size; sets the learned position grid. Inputs of any
            size (multiple of the patch size) are accepted: the position embedding is
            interpolated bicubically.
        patch_size: 14 (EVA checkpoints) or 16 (the detector, after 14 -> 16 conversion).
        in_channels: image channels.
        out_indices: block indices whose outputs are returned; negative counts from the end.
        out_type: ``'raw'`` (B, P + N, C) tokens; ``'featmap'`` (B, C, H, W);
            ``'cls_token'`` (B, C); ``'avg_featmap'`` (B, C) mean of the patch tokens
            followed by ``fc_norm`` (fine-tuned classification checkpoints).
        with_cls_token: prepend the cls token (the detector drops it, as ViTDet).
        final_norm: LayerNorm ``norm`` after the last block (applied to the last index).
        drop_path_rate: stochastic depth, increasing linearly over the blocks.
        qkv_bias: q and v biases (no k bias) as in the official checkpoints.
        layer_scale_init_value: > 0 enables layer scale (not used by EVA pre-training).
        use_abs_pos_emb: learned absolute position embedding (always stored with a cls slot,
            as in the official checkpoints).
        rope_ref_grid: the grid RoPE frequencies are scaled to (EVA-02: 16x16).
        window_size: window side for the blocks in ``window_block_indexes``.
        window_block_indexes: blocks that use window attention (negative allowed); the others
            use global attention. ViTDet: all blocks except 3, 7, ... of each quarter.
        use_rel_pos: decomposed relative position bias in every block (ViTDet): window blocks
            learn tables for the window, global blocks for ``rel_pos_img_size // patch_size``.
        rel_pos_img_size: the input size the global blocks' tables are learned for (the EVA-01
            detector: its training size, 1024 or 1280, while ``img_size`` stays the 224
            pre-training grid of the absolute position embedding); default ``img_size``.
        rel_pos_interp: how the tables are resized when the grid differs: ``'vitdet'``
            (linear) or ``'beit'`` (EVA-01's 1536 evaluation; test time only).
        freeze_patch_embed: no gradient into the patch embedding (the EVA-01 detector).
        use_mask_token: learn a [MASK] token; ``forward(x, mask)`` replaces masked patches.
        frozen_stages: freeze the embeddings and the first ``frozen_stages`` blocks (-1: none).
        with_cp: activation checkpointing per block.
        norm_eps: LayerNorm eps.
        init_cfg: ``dict(type='Pretrained', checkpoint=PATH, prefix=None)`` loads any official
            or converted EVA checkpoint through :mod:`eva_mm.models.checkpoint`.
    """
    arch_zoo: Dict[Tuple[str, ...], dict] = {
        ('t', 'tiny'): dict(embed_dims=192, num_layers=12, num_heads=3, feedforward_channels=768),
        ('s', 'small'): dict(embed_dims=384, num_layers=12, num_heads=6, feedforward_channels=1536),
        ('b', 'base'): dict(embed_dims=768, num_layers=12, num_heads=12, feedforward_channels=3072),
        ('l', 'large'): dict(embed_dims=1024, num_layers=24, num_heads=16,
                             feedforward_channels=4096),
        ('g', 'giant', 'eva-g'): dict(embed_dims=1408, num_layers=40, num_heads=16,
                                      feedforward_channels=6144),
        # EVA-02 (RoPE, SwiGLU; B and L also sub-LN in the MLP), as timm's eva02_* models
        ('eva02-t', 'eva02-tiny'): dict(embed_dims=192, num_layers=12, num_heads=3,
                                        feedforward_channels=512, mlp_type='swiglu',
                                        use_rope=True),
        ('eva02-s', 'eva02-small'): dict(embed_dims=384, num_layers=12, num_heads=6,
                                         feedforward_channels=1024, mlp_type='swiglu',
                                         use_rope=True),
        ('eva02-b', 'eva02-base'): dict(embed_dims=768, num_layers=12, num_heads=12,
                                        feedforward_channels=2048, mlp_type='swiglu',
                                        mlp_norm=True, use_rope=True),
        ('eva02-l', 'eva02-large'): dict(embed_dims=1024, num_layers=24, num_heads=16,
                                         feedforward_channels=2730, mlp_type='swiglu',
                                         mlp_norm=True, use_rope=True),
    }
    REQUIRED_ARCH_KEYS = ('embed_dims', 'num_layers', 'num_heads', 'feedforward_channels')
    OPTIONAL_ARCH_KEYS = ('mlp_type', 'attn_norm', 'mlp_norm', 'use_rope')
    OUT_TYPES = ('raw', 'featmap', 'cls_token', 'avg_featmap')
    num_extra_tokens = 1  # the cls slot of the position embedding

    def __init__(self,
                 arch: Union[str, dict] = 'b',
                 img_size: Union[int, Sequence[int]] = 224,
                 patch_size: int = 14,
                 in_channels: int = 3,
                 out_indices: Union[int, Sequence[int]] = -1,
                 out_type: str = 'raw',
                 with_cls_token: bool = True,
                 final_norm: bool = True,
                 drop_path_rate: float = 0.,
                 qkv_bias: bool = True,
                 layer_scale_init_value: float = 0.,
                 use_abs_pos_emb: bool = True,
                 rope_ref_grid: Optional[Sequence[int]] = (16, 16),
                 window_size: int = 0,
                 window_block_indexes: Sequence[int] = (),
                 use_rel_pos: bool = False,
                 rel_pos_img_size: Optional[Union[int, Sequence[int]]] = None,
                 rel_pos_interp: str = 'vitdet',
                 freeze_patch_embed: bool = False,
                 use_mask_token: bool = False,
                 frozen_stages: int = -1,
                 with_cp: bool = False,
                 norm_eps: float = 1e-6,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.arch_settings = self.parse_arch(arch)
        s = self.arch_settings
        self.embed_dims = C = s['embed_dims']
        self.num_layers = L = s['num_layers']
        self.img_size = (img_size, img_size) if isinstance(img_size, int) else tuple(img_size)
        if patch_size <= 0:
            raise ValueError(f'patch_size must be positive, got {patch_size}')
        self.patch_size = patch_size
        if self.img_size[0] % patch_size or self.img_size[1] % patch_size:
            raise ValueError(f'img_size {self.img_size} is not a multiple of patch_size {patch_size}')
        self.pos_grid = (self.img_size[0] // patch_size, self.img_size[1] // patch_size)
        if out_type not in self.OUT_TYPES:
            raise ValueError(f'unknown out_type {out_type!r}; choose from {self.OUT_TYPES}')
        if out_type == 'cls_token' and not with_cls_token:
            raise ValueError("out_type='cls_token' needs with_cls_token=True")
        self.out_type = out_type
        self.out_indices = self._normalize_indices(out_indices, 'out_indices')
        self.with_cls_token = with_cls_token
        self.num_prefix_tokens = 1 if with_cls_token else 0
        self.frozen_stages = frozen_stages
        self.freeze_patch_embed = freeze_patch_embed
        self.with_cp = with_cp

        window_block_indexes = self._normalize_indices(window_block_indexes,
                                                       'window_block_indexes')
        if window_block_indexes and window_size <= 0:
            raise ValueError('window_block_indexes given but window_size is not positive')
        if window_block_indexes and with_cls_token:
            raise ValueError('window attention needs with_cls_token=False (as ViTDet)')
        if use_rel_pos and with_cls_token:
            raise ValueError('use_rel_pos needs with_cls_token=False (as ViTDet)')
        self.window_size = window_size
        self.window_block_indexes = window_block_indexes

        self.patch_embed = PatchEmbed(in_channels, C, patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, C)) if with_cls_token else None
        self.mask_token = nn.Parameter(torch.zeros(1, 1, C)) if use_mask_token else None
        n_pos = self.pos_grid[0] * self.pos_grid[1] + self.num_extra_tokens
        self.pos_embed = nn.Parameter(torch.zeros(1, n_pos, C)) if use_abs_pos_emb else None
        self.rope = (RotaryEmbedding2D(C // s['num_heads'], tuple(rope_ref_grid))
                     if s['use_rope'] else None)

        if rel_pos_img_size is None:
            rel_pos_img_size = self.img_size
        elif isinstance(rel_pos_img_size, int):
            rel_pos_img_size = (rel_pos_img_size, rel_pos_img_size)
        if rel_pos_img_size[0] % patch_size or rel_pos_img_size[1] % patch_size:
            raise ValueError(f'rel_pos_img_size {tuple(rel_pos_img_size)} is not a multiple of '
                             f'patch_size {patch_size}')
        self.rel_pos_grid = (rel_pos_img_size[0] // patch_size, rel_pos_img_size[1] // patch_size)

        dpr = [drop_path_rate * i / max(L - 1, 1) for i in range(L)]
        self.blocks = nn.ModuleList()
        for i in range(L):
            ws = window_size if i in window_block_indexes else 0
            rel = None
            if use_rel_pos:
                rel = (ws, ws) if ws else self.rel_pos_grid
            self.blocks.append(
                EVABlock(C, s['num_heads'], s['feedforward_channels'], qkv_bias=qkv_bias,
                         drop_path=dpr[i], norm_eps=norm_eps, mlp_type=s['mlp_type'],
                         attn_norm=s['attn_norm'], mlp_norm=s['mlp_norm'], layer_scale_init_value=layer_scale_init_value,
                         window_size=ws, rel_pos_size=rel, rel_pos_interp=rel_pos_interp))
        self.final_norm = final_norm
        self.norm = nn.LayerNorm(C, eps=norm_eps) if final_norm else None
        self.fc_norm = nn.LayerNorm(C, eps=norm_eps) if out_type == 'avg_featmap' else None
        self._init_params()
        self._freeze_stages()

    # -- construction helpers ---------------------------------------------------------------
    @classmethod
    def parse_arch(cls, arch: Union[str, dict]) -> dict:
        """Resolve a preset name/alias or validate an arch dict; ValueError otherwise."""
        if isinstance(arch, str):
            key = arch.lower()
            for names, settings in cls.arch_zoo.items():
                if key in names:
                    arch = dict(settings)
                    break
            else:
                known = sorted(n for names in cls.arch_zoo for n in names)
                raise ValueError(f'unknown EVAViT arch {arch!r}; known presets: {known}')
        elif isinstance(arch, dict):
            missing = [k for k in cls.REQUIRED_ARCH_KEYS if k not in arch]
            if missing:
                raise ValueError(f'arch dict is missing the key(s) {missing}; it needs '
                                 f'{list(cls.REQUIRED_ARCH_KEYS)}')
            unknown = [k for k in arch if k not in cls.REQUIRED_ARCH_KEYS + cls.OPTIONAL_ARCH_KEYS]
            if unknown:
                raise ValueError(f'arch dict has unknown key(s) {unknown}')
            arch = dict(arch)
        else:
            raise TypeError(f'arch must be a str or a dict, got {type(arch).__name__}')
        arch.setdefault('mlp_type', 'gelu')
        arch.setdefault('attn_norm', False)
        arch.setdefault('mlp_norm', False)
        arch.setdefault('use_rope', False)
        if arch['mlp_type'] not in ('gelu', 'swiglu'):
            raise ValueError(f"arch mlp_type must be 'gelu' or 'swiglu', got {arch['mlp_type']!r}")
        for k in cls.REQUIRED_ARCH_KEYS:
            if not isinstance(arch[k], int) or arch[k] <= 0:
                raise ValueError(f'arch {k} must be a positive int, got {arch[k]!r}')
        return arch

    def _normalize_indices(self, indices: Union[int, Sequence[int]], name: str) -> List[int]:
        if isinstance(indices, int):
            indices = [indices]
        out = []
        for i in indices:
            j = i + self.num_layers if i < 0 else i
            if not 0 <= j < self.num_layers:
                raise ValueError(f'{name} contains {i}, out of range for {self.num_layers} blocks')
            out.append(j)
        return sorted(set(out)) if name == 'window_block_indexes' else out

    def _init_params(self) -> None:
        std = .02
        for p in (self.pos_embed, self.cls_token, self.mask_token):
            if p is not None:
                nn.init.trunc_normal_(p, std=std)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=std)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        # BEiT/EVA: rescale the residual output projections by depth
        for i, blk in enumerate(self.blocks):
            blk.attn.proj.weight.data.div_((2.0 * (i + 1))**0.5)
            blk.mlp.fc2.weight.data.div_((2.0 * (i + 1))**0.5)

    def init_weights(self) -> None:
        """Load ``init_cfg=dict(type='Pretrained', checkpoint=...)`` through eva_mm's converter
        (any official EVA / EVA-CLIP / timm / converted layout); other init_cfg as mmengine."""
        cfg = self.init_cfg
        if isinstance(cfg, dict) and cfg.get('type') == 'Pretrained':
            from .checkpoint import load_pretrained
            load_pretrained(self, cfg['checkpoint'], prefix=cfg.get('prefix'),
                            logger=MMLogger.get_current_instance())
            self._is_init = True
            return
        super().init_weights()

    def adapt_checkpoint(self, state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        """Resize a converted checkpoint's patch kernel and position grid to this model
        (bicubic). Subclasses (e.g. the video model) extend this."""
        from .checkpoint import adapt_geometry
        sd = dict(state_dict)
        for note in adapt_geometry(sd, self.patch_size, self.pos_grid, self.num_extra_tokens):
            MMLogger.get_current_instance().info(f'EVAViT checkpoint: {note}')
        return sd

    # -- layer-wise lr decay -----------------------------------------------------------------
    def get_layer_depth(self, param_name: str, prefix: str = '') -> Tuple[int, int]:
        """Layer id of a parameter for layer-wise lr decay, and the number of layer ids.

        Embeddings get 0, block i gets i + 1, everything after the blocks ``num_layers + 1``.
        Parameters outside this backbone (given with another prefix) get ``num_layers + 1``.
        """
        num = self.num_layers + 2
        if not param_name.startswith(prefix):
            return num - 1, num
        name = param_name[len(prefix):]
        if name.split('.')[0] in ('cls_token', 'mask_token', 'pos_embed', 'patch_embed'):
            return 0, num
        if name.startswith('blocks.'):
            return int(name.split('.')[1]) + 1, num
        return num - 1, num

    # -- freezing ------------------------------------------------------------------------------
    def _freeze_stages(self) -> None:
        if self.freeze_patch_embed:
            self.patch_embed.requires_grad_(False)
        if self.frozen_stages < 0:
            return
        frozen: List[nn.Module] = [self.patch_embed]
        frozen += list(self.blocks[:self.frozen_stages])
        if self.frozen_stages >= self.num_layers and self.norm is not None:
            frozen.append(self.norm)
        for m in frozen:
            m.eval()
            for p in m.parameters():
                p.requires_grad = False
        for p in (self.pos_embed, self.cls_token, self.mask_token):
            if p is not None:
                p.requires_grad = False

    def train(self, mode: bool = True) -> 'EVAViT':
        super().train(mode)
        self._freeze_stages()
        return self

    # -- forward -------------------------------------------------------------------------------
    def apply_mask_token(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Replace masked patch tokens by the [MASK] token.

        Args:
            x: (B, N, C) patch tokens (before prefix tokens and position embedding).
            mask: (B, N) bool, True where masked.
        Returns:
            (B, N, C)
        """
        if self.mask_token is None:
            raise ValueError('a mask was given but the model has no mask token '
                             '(use_mask_token=False)')
        if mask.shape != x.shape[:2]:
            raise ValueError(f'mask shape {tuple(mask.shape)} does not match the patch grid '
                             f'{tuple(x.shape[:2])}')
        w = mask.unsqueeze(-1).type_as(x)
        return x * (1 - w) + self.mask_token.to(x.dtype) * w

    def embed(self, x: torch.Tensor, mask: Optional[torch.Tensor] = None
              ) -> Tuple[torch.Tensor, Tuple[int, int]]:
        """Images (B, Cin, H, W) -> tokens (B, P + N, C) with position embedding, and the grid.

        ``mask`` (B, N) bool marks patches replaced by the [MASK] token (MIM)."""
        x, hw = self.patch_embed(x)
        if mask is not None:
            x = self.apply_mask_token(x, mask)
        if self.cls_token is not None:
            x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1).to(x.dtype), x), dim=1)
        if self.pos_embed is not None:
            pos = resize_pos_embed(self.pos_embed, self.pos_grid, hw, self.num_extra_tokens)
            if not self.with_cls_token:
                pos = pos[:, self.num_extra_tokens:]
            x = x + pos
        return x, hw

    def run_block(self, i: int, x: torch.Tensor, hw: Tuple[int, int]) -> torch.Tensor:
        """Block ``i`` on (B, P + N, C) tokens, with activation checkpointing if enabled."""
        blk = self.blocks[i]
        if self.with_cp and x.requires_grad and self.training:
            return cp.checkpoint(blk, x, hw, self.rope, self.num_prefix_tokens, use_reentrant=False)
        return blk(x, hw, self.rope, self.num_prefix_tokens)

    def format_output(self, x: torch.Tensor, hw: Tuple[int, int]) -> torch.Tensor:
        """Tokens (B, P + N, C) -> the configured ``out_type``."""
        if self.out_type == 'raw':
            return x
        if self.out_type == 'cls_token':
            return x[:, 0]
        patches = x[:, self.num_prefix_tokens:]
        if self.out_type == 'featmap':
            B, _, C = patches.shape
            return patches.transpose(1, 2).reshape(B, C, hw[0], hw[1]).contiguous()
        return self.fc_norm(patches.mean(dim=1))

    def forward(self, x: torch.Tensor, mask: Optional[torch.Tensor] = None
                ) -> Tuple[torch.Tensor, ...]:
        """
        Args:
            x: (B, Cin, H, W) images, H and W multiples of ``patch_size``.
            mask: optional (B, H/P * W/P) bool, True where a patch is masked (MIM).
        Returns:
            one output per ``out_indices`` entry, shaped by ``out_type``.
        """
        x, hw = self.embed(x, mask)
        outs = []
        last = max(self.out_indices)
        for i in range(last + 1):
            x = self.run_block(i, x, hw)
            if i == self.num_layers - 1 and self.norm is not None:
                x = self.norm(x)
            if i in self.out_indices:
                outs.append((i, self.format_output(x, hw)))
        order = {idx: k for k, idx in enumerate(self.out_indices)}
        return tuple(o for _, o in sorted(outs, key=lambda t: order[t[0]]))


def vitdet_global_blocks(num_layers: int, num_global: int = 4) -> List[int]:
    """Global-attention blocks of ViTDet: the last block of each of ``num_global`` equal
    stages (EVA-g, 40 layers: 9, 19, 29, 39 for 4 stages; every 4th block (3, 7, ..., 39)
    for 10 stages). ``num_layers`` must be divisible by ``num_global``."""
    if num_layers % num_global:
        raise ValueError(f'{num_layers} blocks cannot be split into {num_global} equal stages')
    step = num_layers // num_global
    return [step * (k + 1) - 1 for k in range(num_global)]


def vitdet_window_blocks(num_layers: int, num_global: int = 4) -> List[int]:
    """All blocks that are not global in :func:`vitdet_global_blocks`."""
    glob = set(vitdet_global_blocks(num_layers, num_global))
    return [i for i in range(num_layers) if i not in glob]


__all__ = ['EVABlock', 'EVAViT', 'vitdet_global_blocks', 'vitdet_window_blocks']
