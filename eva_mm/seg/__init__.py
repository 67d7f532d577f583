"""eva_mm.seg: semantic segmentation with EVA (ViT-Adapter + mmseg's Mask2Former).

Registers ``eva_mm.EVAAdapter`` (model), ``eva_mm.ShapesSegDataset`` (dataset) and
``eva_mm.CheckSegLabels`` (transform).
"""
from .datasets import CheckSegLabels, SegAnnotationError, ShapesSegDataset
from .vit_adapter import EVAAdapter, split_blocks

__all__ = ['EVAAdapter', 'split_blocks', 'ShapesSegDataset', 'CheckSegLabels',
           'SegAnnotationError']
