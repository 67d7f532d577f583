"""Maskness calibration of instance scores (EVA's detector, test time only).

``score <- score * maskness``, ``maskness`` = mean mask probability over the pixels of the
instance's predicted (M x M, RoI-resolution) mask whose probability is above ``thr`` (0.5);
an instance with no such pixel gets maskness 0.
"""
from typing import List, Optional, Tuple

import torch
from mmdet.models.roi_heads.mask_heads import FCNMaskHead
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData

from ..registry import MODELS


def maskness(mask_probs: torch.Tensor, thr: float = 0.5) -> torch.Tensor:
    """(n, H, W) probabilities in [0, 1] -> (n,) mean probability over the pixels > thr."""
    fg = (mask_probs > thr).to(mask_probs.dtype)
    num = (mask_probs * fg).flatten(1).sum(1)
    den = fg.flatten(1).sum(1)
    return torch.where(den > 0, num / den.clamp(min=1), torch.zeros_like(num))


@MODELS.register_module()
class MasknessFCNMaskHead(FCNMaskHead):
    """mmdet's ``FCNMaskHead`` whose predictions can calibrate the instance scores by
    maskness (a test-time option; training is unchanged).

    Args:
        maskness_thr: probability threshold of the maskness pixels (EVA: 0.5); None disables
            the calibration (then this is exactly ``FCNMaskHead``).
        **kwargs: ``FCNMaskHead`` arguments.
    """

    def __init__(self, *args, maskness_thr: Optional[float] = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if maskness_thr is not None and not 0 <= maskness_thr < 1:
            raise ValueError(f'maskness_thr must be in [0, 1) or None, got {maskness_thr}')
        self.maskness_thr = maskness_thr

    def instance_maskness(self, mask_preds: torch.Tensor, labels: torch.Tensor,
                          activate_map: bool) -> torch.Tensor:
        """(n, K or 1, M, M) mask logits (probabilities if ``activate_map``) -> (n,)."""
        probs = mask_preds if activate_map else mask_preds.sigmoid()
        idx = torch.zeros_like(labels) if self.class_agnostic else labels
        probs = probs[torch.arange(len(labels), device=probs.device), idx.long()]
        return maskness(probs.float(), self.maskness_thr)

    def predict_by_feat(self,
                        mask_preds: Tuple[torch.Tensor],
                        results_list: List[InstanceData],
                        batch_img_metas: List[dict],
                        rcnn_test_cfg: ConfigDict,
                        rescale: bool = False,
                        activate_map: bool = False) -> List[InstanceData]:
        factors = None
        if self.maskness_thr is not None:
            factors = [
                self.instance_maskness(m, r.labels, activate_map) if len(r) else None
                for m, r in zip(mask_preds, results_list)
            ]
        results_list = super().predict_by_feat(mask_preds, results_list, batch_img_metas,
                                               rcnn_test_cfg, rescale, activate_map)
        if factors is not None:
            for res, f in zip(results_list, factors):
                if f is not None and len(res):
                    res.scores = res.scores * f.to(res.scores.dtype)
        return results_list


__all__ = ['MasknessFCNMaskHead', 'maskness']
