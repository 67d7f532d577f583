"""eva_mm.seg: semantic segmentation with EVA (ViT-Adapter + mmseg's Mask2Former).

Registers ``eva_mm.EVAAdapter`` and ``eva_mm.Mask2FormerHead`` (models),
``eva_mm.ShapesSegDataset`` (dataset), ``eva_mm.LoadSegAnnotations`` and
``eva_mm.CheckSegLabels`` (transforms) and the
whole-model checkpoint layout ``'eva01_seg'`` (released EVA-01 segmenters).
"""
from .convert import convert_eva01_segmenter, is_eva01_segmenter
from .datasets import CheckSegLabels, LoadSegAnnotations, SegAnnotationError, ShapesSegDataset
from .mask2former import Mask2FormerHead
from .vit_adapter import EVAAdapter, split_blocks

__all__ = ['EVAAdapter', 'split_blocks', 'Mask2FormerHead', 'ShapesSegDataset',
           'CheckSegLabels', 'LoadSegAnnotations', 'SegAnnotationError', 'convert_eva01_segmenter',
           'is_eva01_segmenter']
