"""Shared layers of the one EVA ViT implementation (one concern per file)."""
from .attention import Attention, set_fused_attn, use_fused_attn
from .drop import DropPath
from .mlp import Mlp, SwiGLU
from .norm import LayerNorm2d
from .patch_embed import PatchEmbed
from .pos_embed import grid_of, resize_patch_kernel, resize_pos_embed
from .rel_pos import decomposed_rel_pos_bias, get_rel_pos
from .rope import RotaryEmbedding2D, rotate_pairs
from .window import window_partition, window_unpartition

__all__ = [
    'Attention', 'set_fused_attn', 'use_fused_attn', 'DropPath', 'Mlp', 'SwiGLU', 'LayerNorm2d',
    'PatchEmbed', 'grid_of', 'resize_patch_kernel', 'resize_pos_embed', 'decomposed_rel_pos_bias',
    'get_rel_pos', 'RotaryEmbedding2D', 'rotate_pairs', 'window_partition', 'window_unpartition'
]
