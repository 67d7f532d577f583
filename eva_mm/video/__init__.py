"""eva_mm.video: the EVA-01 video model for mmaction2 (joint space-time attention).

Registers :class:`EVAViT3D` (``type='eva_mm.EVAViT3D'``), :class:`EVAVideoHead`, the video
transforms used by ``configs/video/`` and the ``'eva01_video'`` whole-model checkpoint layout
(official ``eva_video_k*.pth`` -> ``Recognizer3D`` keys) in eva_mm's one conversion path.
"""
from ..models.checkpoint import register_model_layout
from .convert import (convert_eva01_video, is_eva01_video, load_class_mapping, map_head_rows,
                      read_video_head)
from .eva_vit3d import EVAViT3D, PatchEmbed3D, inflate_image_pos_embed, resize_pos_embed_3d
from .head import EVAVideoHead
from .transforms import (CheckedDecordDecode, CheckedDecordInit, ColorJitter, RandomGrayscale,
                         RepeatFrame, SampleSegments, VideoReadError)

register_model_layout('eva01_video', is_eva01_video, convert_eva01_video)

__all__ = ['CheckedDecordDecode', 'CheckedDecordInit', 'ColorJitter', 'EVAViT3D', 'EVAVideoHead',
           'PatchEmbed3D', 'RandomGrayscale', 'RepeatFrame', 'SampleSegments', 'VideoReadError',
           'convert_eva01_video', 'inflate_image_pos_embed', 'is_eva01_video',
           'load_class_mapping', 'map_head_rows', 'read_video_head', 'resize_pos_embed_3d']
