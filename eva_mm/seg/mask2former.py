"""mmseg's Mask2Former head with the official EVA-01 segmenter's test-time order.

Training, parameters and the decoder are mmseg's (mmdet 3.x's Mask2Former) unchanged. Only
``predict`` differs: the official head (mmseg 0.x, ``EVA-01/seg``) forms the per-class map
``sum_q softmax(cls)_qc * sigmoid(mask)_q`` at the mask resolution (stride 4) and its
segmentor then resizes that map bilinearly to the input; mmseg 1.x resizes the mask *logits*
first and takes the sigmoid and the class product at full size. The two differ near
boundaries (a sigmoid of an interpolation is not an interpolation of sigmoids).
"""
from typing import List, Tuple

import torch
import torch.nn.functional as F
from mmseg.models.decode_heads import Mask2FormerHead as MMSegMask2FormerHead
from mmseg.structures import SegDataSample
from torch import Tensor

from ..registry import MODELS


@MODELS.register_module()
class Mask2FormerHead(MMSegMask2FormerHead):
    """mmseg's ``Mask2FormerHead``; ``predict`` as the official EVA-01 segmenter (class map at
    stride 4, then bilinear resize). Same arguments and state dict as mmseg's head."""

    def predict(self, x: Tuple[Tensor], batch_img_metas: List[dict],
                test_cfg: dict) -> Tensor:
        """Multi-level features -> (B, num_classes, H, W) class scores, H x W the size mmseg
        would use (``pad_shape`` when present, else ``img_shape``)."""
        samples = [SegDataSample(metainfo=m) for m in batch_img_metas]
        all_cls, all_masks = self(x, samples)
        cls = F.softmax(all_cls[-1], dim=-1)[..., :-1]  # (B, Q, K), no-object dropped
        seg = torch.einsum('bqc,bqhw->bchw', cls, all_masks[-1].sigmoid())  # stride 4
        meta = batch_img_metas[0]
        size = meta['pad_shape'] if 'pad_shape' in meta else meta['img_shape']
        return F.interpolate(seg, size=tuple(size[:2]), mode='bilinear',
                             align_corners=self.align_corners)


__all__ = ['Mask2FormerHead']
