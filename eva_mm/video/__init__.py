"""eva_mm.video: EVA on videos for mmaction2 (joint space-time attention).

Registers :class:`EVAViT3D` (``type='eva_mm.EVAViT3D'``) and the video transforms used by the
configs in ``configs/video/``.
"""
from .eva_vit3d import EVAViT3D, PatchEmbed3D, resize_time_embed
from .transforms import CheckedDecordDecode, CheckedDecordInit, RepeatFrame, VideoReadError

__all__ = ['CheckedDecordDecode', 'CheckedDecordInit', 'EVAViT3D', 'PatchEmbed3D', 'RepeatFrame',
           'VideoReadError', 'resize_time_embed']
