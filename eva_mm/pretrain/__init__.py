"""eva_mm.pretrain: EVA MIM with a CLIP teacher, EVA-CLIP contrastive training, zero-shot
evaluation and open_clip export (SPEC §2, §3)."""
from .clip import (CLIP_L_TEXT_CFG, EVACLIP, TokenizeCaption, clip_contrastive_loss,
                   gather_with_grad, get_tokenizer)
from .datasets import CaptionedImageDataset, LoadImageFromShard, MaskedCosineSimilarity
from .hooks import ExportStudentHook, ValidateBeforeTrainHook
from .export import export_open_clip, load_exported, open_clip_state_dict, register_timm_eva
from .mask_generator import BlockwiseMaskGenerator
from .mim import EVAMIM, masked_cosine_loss
from .teacher import OpenCLIPVisionTeacher
from .zero_shot import (ZeroShotAccuracy, ZeroShotClassifierHook, build_zero_shot_classifier,
                        openai_imagenet_templates)

__all__ = [
    'BlockwiseMaskGenerator', 'OpenCLIPVisionTeacher', 'EVAMIM', 'masked_cosine_loss',
    'EVACLIP', 'TokenizeCaption', 'clip_contrastive_loss', 'gather_with_grad', 'get_tokenizer',
    'CLIP_L_TEXT_CFG', 'CaptionedImageDataset', 'MaskedCosineSimilarity', 'ZeroShotAccuracy',
    'ZeroShotClassifierHook', 'openai_imagenet_templates', 'export_open_clip', 'load_exported',
    'open_clip_state_dict', 'register_timm_eva', 'ValidateBeforeTrainHook',
    'ExportStudentHook', 'LoadImageFromShard', 'build_zero_shot_classifier'
]
