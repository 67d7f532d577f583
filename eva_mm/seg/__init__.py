"""eva_mm.seg: semantic segmentation with EVA (ViT-Adapter + mmseg's Mask2Former).

Registers ``eva_mm.EVAAdapter``, ``eva_mm.Mask2FormerHead``, ``eva_mm.EncoderDecoder`` and
``eva_mm.SegTTAModel`` (models), ``eva_mm.ShapesSegDataset`` (dataset), ``eva_mm.LoadSegAnnotations``,
``eva_mm.CheckSegLabels`` and ``eva_mm.PadShortSide`` (transforms) and the
whole-model checkpoint layout ``'eva01_seg'`` (released EVA-01 segmenters).
"""
from .convert import convert_eva01_segmenter, is_eva01_segmenter
from .datasets import (CheckSegLabels, LoadSegAnnotations, PadShortSide, SegAnnotationError,
                       ShapesSegDataset)
from .mask2former import Mask2FormerHead
from .segmentor import EncoderDecoder
from .tta import SegTTAModel
from .vit_adapter import EVAAdapter, split_blocks

__all__ = ['EVAAdapter', 'split_blocks', 'Mask2FormerHead', 'EncoderDecoder', 'ShapesSegDataset',
           'CheckSegLabels', 'LoadSegAnnotations', 'PadShortSide', 'SegAnnotationError',
           'convert_eva01_segmenter', 'is_eva01_segmenter', 'SegTTAModel']
