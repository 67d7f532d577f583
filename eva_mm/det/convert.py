"""Released EVA-01 detectors (detectron2 layout: ``eva_o365.pth``, ``eva_coco_det.pth``,
``eva_coco_seg.pth``, ``eva_lvis.pth``) -> eva_mm's mmdet Cascade Mask R-CNN
(``EVAViT`` + ``SimpleFPN`` + ``LogitRankRPNHead`` + ``EVACascadeRoIHead``).

Registered as the whole-model layout ``'detectron2'`` of :mod:`eva_mm.models.checkpoint`, so
``tools/model_converters/eva_to_eva_mm.py`` and ``load_from`` (``ConvertCheckpointHook``) share
it. Every key is renamed or reported as dropped; an unknown key is an error. No tensor is
changed: detectron2's box-coder weights (10, 10, 5, 5) ... are the reciprocals of the configs'
``target_stds``, and both put the background class last.
"""
import re
from typing import Dict, List, Tuple

import torch

from ..models.checkpoint import (CheckpointError, ConversionReport, convert_state_dict,
                                 register_model_layout)

StateDict = Dict[str, torch.Tensor]

# name of a channels-first LayerNorm inside mmcv's ConvModule (``norm_cfg=dict(type='LN2d')``)
_NORM = 'ln'
_NET = 'backbone.net.'

# detectron2 simple feature pyramid: level (2..5) -> index of its 1x1 lateral conv
_SFP_LATERAL = {2: 4, 3: 1, 4: 0, 5: 1}
# resampling layers of the pyramid -> SimpleFPN
_SFP_RESAMPLE = {'simfp_2.0': 'fpn1.0', 'simfp_2.1': 'fpn1.1', 'simfp_2.3': 'fpn1.3',
                 'simfp_3.0': 'fpn2.0'}

_RULES: List[Tuple[re.Pattern, str]] = [
    (re.compile(r'^proposal_generator\.rpn_head\.conv\.conv(\d)\.(weight|bias)$'),
     r'rpn_head.rpn_conv.\1.conv.\2'),
    (re.compile(r'^proposal_generator\.rpn_head\.objectness_logits\.'), 'rpn_head.rpn_cls.'),
    (re.compile(r'^proposal_generator\.rpn_head\.anchor_deltas\.'), 'rpn_head.rpn_reg.'),
    (re.compile(r'^roi_heads\.box_head\.(\d)\.fc1\.'), r'roi_head.bbox_head.\1.shared_fcs.0.'),
    (re.compile(r'^roi_heads\.box_predictor\.(\d)\.cls_score\.'), r'roi_head.bbox_head.\1.fc_cls.'),
    (re.compile(r'^roi_heads\.box_predictor\.(\d)\.bbox_pred\.'), r'roi_head.bbox_head.\1.fc_reg.'),
    (re.compile(r'^roi_heads\.mask_head\.deconv\.'), 'roi_head.mask_head.0.upsample.'),
    (re.compile(r'^roi_heads\.mask_head\.predictor\.'), 'roi_head.mask_head.0.conv_logits.'),
]
_DROPPED = [
    (re.compile(r'^roi_heads\.box_predictor\.\d\.fed_loss_cls_weights$'),
     'LVIS federated-loss class weights: a training buffer, recomputed by eva_mm.FederatedLoss '
     'from the annotation file'),
]


def is_detectron2_detector(sd: StateDict) -> bool:
    """A whole detectron2 EVA detector: the ViT under ``backbone.net.`` plus the pyramid."""
    return f'{_NET}patch_embed.proj.weight' in sd and any(k.startswith('backbone.simfp_')
                                                          for k in sd)


def _conv_with_norm(key: str) -> str:
    """Rename a detectron2 ``Conv2d(norm=LN)`` key: ``X.weight`` / ``X.norm.weight`` ->
    ``Y.conv.weight`` / ``Y.ln.weight``; None if not such a conv."""
    m = re.match(r'^backbone\.simfp_(\d)\.(\d)\.(norm\.)?(weight|bias)$', key)
    if m and (f'simfp_{m[1]}.{m[2]}' not in _SFP_RESAMPLE):
        lvl, idx = int(m[1]), int(m[2])
        which = 'lateral_convs' if idx == _SFP_LATERAL[lvl] else 'fpn_convs'
        if which == 'fpn_convs' and idx != _SFP_LATERAL[lvl] + 1:
            return None
        return f'neck.{which}.{lvl - 2}.' + (f'{_NORM}.' if m[3] else 'conv.') + m[4]
    m = re.match(r'^roi_heads\.box_head\.(\d)\.conv(\d)\.(norm\.)?(weight|bias)$', key)
    if m:
        return (f'roi_head.bbox_head.{m[1]}.shared_convs.{int(m[2]) - 1}.' +
                (f'{_NORM}.' if m[3] else 'conv.') + m[4])
    m = re.match(r'^roi_heads\.mask_head\.mask_fcn(\d)\.(norm\.)?(weight|bias)$', key)
    if m:
        return (f'roi_head.mask_head.0.convs.{int(m[1]) - 1}.' +
                (f'{_NORM}.' if m[2] else 'conv.') + m[3])
    return None


def convert_detectron2_detector(sd: StateDict) -> Tuple[StateDict, ConversionReport]:
    """A detectron2 EVA-01 Cascade Mask R-CNN state dict -> eva_mm mmdet model keys.

    Raises CheckpointError naming every key it cannot place."""
    report = ConversionReport(layout='detectron2')
    vit = {k[len(_NET):]: v for k, v in sd.items() if k.startswith(_NET)}
    vit_sd, vit_report = convert_state_dict(vit)
    report.dropped.update({_NET + k: r for k, r in vit_report.dropped.items()})
    out: StateDict = {f'backbone.{k}': v for k, v in vit_sd.items()}
    unknown = []
    for k, v in sd.items():
        if k.startswith(_NET):
            continue
        reason = next((r for pat, r in _DROPPED if pat.match(k)), None)
        if reason is not None:
            report.dropped[k] = reason
            continue
        new = None
        m = re.match(r'^backbone\.(simfp_\d\.\d)\.(weight|bias)$', k)
        if m and m[1] in _SFP_RESAMPLE:
            new = f'neck.{_SFP_RESAMPLE[m[1]]}.{m[2]}'
        if new is None:
            new = _conv_with_norm(k)
        if new is None:
            for pat, repl in _RULES:
                if pat.match(k):
                    new = pat.sub(repl, k)
                    break
        if new is None:
            unknown.append(k)
            continue
        out[new] = v
    if unknown:
        raise CheckpointError(f'detectron2 detector checkpoint: {len(unknown)} key(s) with no '
                              f'eva_mm counterpart: {unknown[:10]}')
    report.notes.append(f'{len(out)} tensors mapped to the mmdet Cascade Mask R-CNN')
    return out, report


register_model_layout('detectron2', is_detectron2_detector, convert_detectron2_detector)

__all__ = ['convert_detectron2_detector', 'is_detectron2_detector']
