"""eva_mm.det: EVA in mmdet (ViTDet-style Cascade Mask R-CNN).

EVAViT itself needs no glue: ``EVAViT(out_type='featmap', with_cls_token=False,
final_norm=False)`` returns a 1-tuple with the (B, C, H/16, W/16) map that mmdet's necks take.
This package adds the ViTDet simple feature pyramid (``SimpleFPN``, ``LN2d``), the LVIS
federated sigmoid loss, maskness score calibration, mask-aware TTA and datasets that report
bad annotations. Everything is registered in eva_mm's registries (``type='eva_mm.X'``).
"""
from .datasets import AnnotationChecksMixin, CheckedCocoDataset, CheckedLVISV1Dataset
from .federated_loss import FederatedLoss, fed_loss_class_weights, get_fed_loss_classes
from .maskness import MasknessFCNMaskHead, maskness
from .simple_fpn import SimpleFPN
from .tta import DetMaskTTAModel, unflip_masks

__all__ = [
    'SimpleFPN', 'FederatedLoss', 'fed_loss_class_weights', 'get_fed_loss_classes',
    'MasknessFCNMaskHead', 'maskness', 'DetMaskTTAModel', 'unflip_masks',
    'AnnotationChecksMixin', 'CheckedCocoDataset', 'CheckedLVISV1Dataset'
]
