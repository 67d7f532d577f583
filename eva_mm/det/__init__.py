"""eva_mm.det: EVA in mmdet (ViTDet-style Cascade Mask R-CNN).

EVAViT itself needs no glue: ``EVAViT(out_type='featmap', with_cls_token=False,
final_norm=False)`` returns a 1-tuple with the (B, C, H/16, W/16) map that mmdet's necks take.
This package adds the ViTDet simple feature pyramid (``SimpleFPN``, ``LN2d``), the LVIS
federated sigmoid loss, maskness score calibration, mask-aware TTA and datasets that report
bad annotations, and the pieces that make mmdet's Cascade Mask R-CNN compute what the released
EVA-01 detectors compute (``LogitRankRPNHead``, ``EVACascadeRoIHead``) with the converter of
their detectron2 checkpoints (``convert``). Everything is registered in eva_mm's registries (``type='eva_mm.X'``).
"""
from .cascade import EVACascadeRoIHead
from .convert import convert_detectron2_detector, is_detectron2_detector
from .datasets import AnnotationChecksMixin, CheckedCocoDataset, CheckedLVISV1Dataset
from .federated_loss import FederatedLoss, fed_loss_class_weights, get_fed_loss_classes
from .maskness import MasknessFCNMaskHead, maskness
from .metrics import LVISMetricMaxDets
from .rpn import LogitRankRPNHead
from .simple_fpn import SimpleFPN
from .tta import DetMaskTTAModel, unflip_masks

__all__ = [
    'SimpleFPN', 'FederatedLoss', 'fed_loss_class_weights', 'get_fed_loss_classes',
    'MasknessFCNMaskHead', 'maskness', 'DetMaskTTAModel', 'unflip_masks',
    'AnnotationChecksMixin', 'CheckedCocoDataset', 'CheckedLVISV1Dataset', 'EVACascadeRoIHead',
    'LogitRankRPNHead', 'LVISMetricMaxDets', 'convert_detectron2_detector', 'is_detectron2_detector'
]
