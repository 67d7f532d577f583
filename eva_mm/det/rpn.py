"""RPN head that ranks proposals by objectness logits (EVA-01 / detectron2), not by sigmoid
scores as mmdet's ``RPNHead`` does: fp32 sigmoid saturates at 1 for large logits, so ties make
mmdet's top-k and NMS winners differ from the official detector's."""
import copy
from typing import List

import torch
from mmdet.models.dense_heads import RPNHead
from mmdet.structures.bbox import cat_boxes
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData

from ..registry import MODELS


@MODELS.register_module()
class LogitRankRPNHead(RPNHead):
    """mmdet's ``RPNHead`` (same layers, losses and keys) whose test-time proposal selection
    runs on the objectness logits: per level the top ``nms_pre`` anchors by logit, decoded and
    clipped to the unpadded image, boxes with w or h <= ``min_bbox_size`` dropped, NMS per
    level, the top ``max_per_img`` overall by logit. The returned ``scores`` are the sigmoid of
    the kept logits. Needs a sigmoid classifier (``loss_cls.use_sigmoid=True``)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not self.use_sigmoid_cls:
            raise ValueError('LogitRankRPNHead needs loss_cls with use_sigmoid=True')

    def _predict_by_feat_single(self, cls_score_list: List[torch.Tensor],
                                bbox_pred_list: List[torch.Tensor],
                                score_factor_list: List[torch.Tensor],
                                mlvl_priors: List[torch.Tensor], img_meta: dict,
                                cfg: ConfigDict, rescale: bool = False,
                                with_nms: bool = True) -> InstanceData:
        """Per image: (A, H, W) logits and (4A, H, W) deltas per level -> proposals."""
        cfg = copy.deepcopy(self.test_cfg if cfg is None else cfg)
        nms_pre = cfg.get('nms_pre', -1)
        logits, deltas, priors, levels = [], [], [], []
        for lvl, (score, delta, prior) in enumerate(zip(cls_score_list, bbox_pred_list,
                                                        mlvl_priors)):
            score = score.permute(1, 2, 0).reshape(-1)  # (H * W * A,), anchor-fastest
            delta = delta.permute(1, 2, 0).reshape(-1, self.bbox_coder.encode_size)
            if 0 < nms_pre < score.numel():
                score, idx = score.topk(nms_pre)
                delta, prior = delta[idx], prior[idx]
            logits.append(score)
            deltas.append(delta)
            priors.append(prior)
            levels.append(torch.full_like(score, lvl, dtype=torch.long))
        results = InstanceData()
        results.bboxes = self.bbox_coder.decode(cat_boxes(priors), torch.cat(deltas),
                                                max_shape=img_meta['img_shape'])
        results.scores = torch.cat(logits)  # NMS and the final top-k rank logits
        results.level_ids = torch.cat(levels)
        results = self._bbox_post_process(results=results, cfg=cfg, rescale=rescale,
                                          img_meta=img_meta)
        results.scores = results.scores.sigmoid()
        return results


__all__ = ['LogitRankRPNHead']
