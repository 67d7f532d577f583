"""The EVA-01 (detectron2) Cascade R-CNN RoI head as an option set over mmdet's
``CascadeRoIHead``: per-stage class probabilities averaged (mmdet averages logits), one mask
head on the final boxes (mmdet builds one per stage and averages them, which also fails under
flip TTA), final boxes clipped to the original image and empty ones dropped before the masks
are pasted (detectron2's ``detector_postprocess``)."""
from typing import List, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmdet.models.layers import multiclass_nms
from mmdet.models.roi_heads import CascadeRoIHead
from mmdet.structures.bbox import bbox2roi, get_box_tensor, scale_boxes
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData
from torch import nn

from ..registry import MODELS


@MODELS.register_module()
class EVACascadeRoIHead(CascadeRoIHead):
    """``CascadeRoIHead`` computing what EVA-01's detector computes.

    Args:
        average_probs: average the stages' activated class scores (softmax, or the
            ``loss_cls.get_activation`` of a sigmoid loss) instead of their logits.
        single_mask_head: one mask head (and mask RoI extractor), trained on the first stage's
            positive RoIs with loss weight ``stage_loss_weights[0]`` and applied once to the
            final boxes at test time (detectron2's cascade). False keeps mmdet's per-stage
            heads.
        **kwargs: ``CascadeRoIHead`` arguments.
    """

    MASK_CHUNK = 64  # RoIs per mask-head call at test time

    def __init__(self, *args, average_probs: bool = True, single_mask_head: bool = True,
                 **kwargs) -> None:
        self.average_probs = average_probs
        self.single_mask_head = single_mask_head
        super().__init__(*args, **kwargs)

    # -- construction -------------------------------------------------------------------------
    def init_mask_head(self, mask_roi_extractor, mask_head) -> None:
        if not self.single_mask_head:
            return super().init_mask_head(mask_roi_extractor, mask_head)
        if isinstance(mask_head, (list, tuple)):
            raise ValueError('single_mask_head=True takes one mask_head config, not a list')
        self.mask_head = nn.ModuleList([MODELS.build(mask_head)])
        if mask_roi_extractor is not None:
            if isinstance(mask_roi_extractor, (list, tuple)):
                raise ValueError('single_mask_head=True takes one mask_roi_extractor config')
            self.share_roi_extractor = False
            self.mask_roi_extractor = nn.ModuleList([MODELS.build(mask_roi_extractor)])
        else:
            self.share_roi_extractor = True
            self.mask_roi_extractor = self.bbox_roi_extractor

    # -- training -------------------------------------------------------------------------------
    def _mask_forward(self, stage: int, x: Tuple[torch.Tensor], rois: torch.Tensor) -> dict:
        return super()._mask_forward(0 if self.single_mask_head else stage, x, rois)

    def mask_loss(self, stage: int, x, sampling_results, batch_gt_instances) -> dict:
        if self.single_mask_head and stage > 0:
            return dict(loss_mask={})  # the one mask head learns from the first stage only
        return super().mask_loss(stage, x, sampling_results, batch_gt_instances)

    # -- inference ------------------------------------------------------------------------------
    def _stage_probs(self, stage: int, cls_score: torch.Tensor) -> torch.Tensor:
        """(n, K + 1) logits -> (n, K + 1) scores of stage ``stage`` (background last)."""
        head = self.bbox_head[stage]
        if head.custom_activation:
            return head.loss_cls.get_activation(cls_score)
        return F.softmax(cls_score, dim=-1)

    def _refine_roi(self, x: Tuple[torch.Tensor], rois: torch.Tensor,
                    batch_img_metas: List[dict], num_proposals_per_img: Sequence[int],
                    **kwargs) -> tuple:
        """RoIs (n, 5) through the stages -> (per-image final-stage RoIs, per-image mean class
        probabilities (n_i, K + 1), per-image last-stage deltas)."""
        if not self.average_probs:
            return super()._refine_roi(x, rois, batch_img_metas, num_proposals_per_img,
                                       **kwargs)
        probs_sum = None
        for stage in range(self.num_stages):
            res = self._bbox_forward(stage=stage, x=x, rois=rois, **kwargs)
            probs = self._stage_probs(stage, res['cls_score'])
            probs_sum = probs if probs_sum is None else probs_sum + probs
            deltas = res['bbox_pred']
            if stage < self.num_stages - 1:
                head = self.bbox_head[stage]
                refined = []
                for r, p, d, meta in zip(rois.split(num_proposals_per_img),
                                         probs.split(num_proposals_per_img),
                                         deltas.split(num_proposals_per_img), batch_img_metas):
                    boxes = head.regress_by_class(r[:, 1:], p[:, :-1].argmax(dim=1), d, meta)
                    refined.append(torch.cat([r[:, :1], get_box_tensor(boxes)], dim=1))
                rois = torch.cat(refined)
        mean = probs_sum / self.num_stages
        return (rois.split(num_proposals_per_img), mean.split(num_proposals_per_img),
                deltas.split(num_proposals_per_img))

    def predict_bbox(self, x: Tuple[torch.Tensor], batch_img_metas: List[dict],
                     rpn_results_list: List[InstanceData], rcnn_test_cfg: ConfigDict,
                     rescale: bool = False, **kwargs) -> List[InstanceData]:
        if not self.average_probs:
            return super().predict_bbox(x, batch_img_metas, rpn_results_list, rcnn_test_cfg,
                                        rescale, **kwargs)
        proposals = [res.bboxes for res in rpn_results_list]
        if sum(len(p) for p in proposals) == 0:
            return super().predict_bbox(x, batch_img_metas, rpn_results_list, rcnn_test_cfg,
                                        rescale, **kwargs)
        rois, probs, deltas = self._refine_roi(x, bbox2roi(proposals), batch_img_metas,
                                               tuple(len(p) for p in proposals), **kwargs)
        head = self.bbox_head[-1]
        results_list = []
        for r, p, d, meta in zip(rois, probs, deltas, batch_img_metas):
            # last stage's deltas on its RoIs, clipped to the unpadded image (+ rescale)
            if not head.reg_class_agnostic:
                r = r.repeat_interleave(head.num_classes, dim=0)
            boxes = head.bbox_coder.decode(r[:, 1:], d.view(-1, head.bbox_coder.encode_size),
                                           max_shape=meta['img_shape'])
            if rescale:
                boxes = scale_boxes(boxes, [1 / s for s in meta['scale_factor']])
            boxes = get_box_tensor(boxes).view(len(p), -1)
            res = InstanceData()
            if rcnn_test_cfg is None:
                res.bboxes, res.scores = boxes, p
            else:
                dets, labels = multiclass_nms(boxes, p, rcnn_test_cfg.score_thr,
                                              rcnn_test_cfg.nms, rcnn_test_cfg.max_per_img)
                res.bboxes, res.scores, res.labels = dets[:, :-1], dets[:, -1], labels
            results_list.append(res)
        return results_list

    def predict_mask(self, x: Tuple[torch.Tensor], batch_img_metas: List[dict],
                     results_list: List[InstanceData], rescale: bool = False
                     ) -> List[InstanceData]:
        """Boxes (resized-image coordinates) -> masks of the one mask head; boxes that are
        empty after clipping to the original image are dropped first (detectron2)."""
        if not self.single_mask_head:
            return super().predict_mask(x, batch_img_metas, results_list, rescale)
        for i, (res, meta) in enumerate(zip(results_list, batch_img_metas)):
            results_list[i] = res[_clip_to_original(res.bboxes, meta)]
        rois = bbox2roi([res.bboxes for res in results_list])
        if rois.shape[0] == 0:
            return super().predict_mask(x, batch_img_metas, results_list, rescale)
        head = self.mask_head[0]
        labels = torch.cat([res.labels for res in results_list])
        mask_preds = self._own_class_mask_logits(x, rois, labels)
        mask_preds = mask_preds.split([len(res) for res in results_list], 0)
        agnostic = head.class_agnostic
        head.class_agnostic = True  # the logits are already each box's own class (n, 1, M, M)
        try:
            results_list = head.predict_by_feat(
                mask_preds=mask_preds, results_list=results_list,
                batch_img_metas=batch_img_metas, rcnn_test_cfg=self.test_cfg, rescale=rescale,
                activate_map=False)
        finally:
            head.class_agnostic = agnostic
        if rescale:
            for res, meta in zip(results_list, batch_img_metas):
                h, w = meta['ori_shape'][:2]
                res.bboxes[:, 0::2] = res.bboxes[:, 0::2].clamp(0, w)
                res.bboxes[:, 1::2] = res.bboxes[:, 1::2].clamp(0, h)
        return results_list

    def _own_class_mask_logits(self, x: Tuple[torch.Tensor], rois: torch.Tensor,
                               labels: torch.Tensor) -> torch.Tensor:
        """(n, 5) RoIs and (n,) labels -> (n, 1, M, M) mask logits of each box's own class
        (what the official detector keeps). RoIs run in chunks of ``MASK_CHUNK``, so the
        class-specific head's (n, K, M, M) output never exists whole (LVIS: 1000 boxes x 1203
        classes x 28 x 28 fp32 = 3.8 GB per copy)."""
        out = []
        for i in range(0, len(rois), self.MASK_CHUNK):
            preds = self._mask_forward(0, x, rois[i:i + self.MASK_CHUNK])['mask_preds']
            lab = labels[i:i + self.MASK_CHUNK]
            if not self.mask_head[0].class_agnostic:
                preds = preds[torch.arange(len(lab), device=preds.device), lab][:, None]
            out.append(preds)
        return torch.cat(out)


def _clip_to_original(boxes: torch.Tensor, meta: dict) -> torch.Tensor:
    """Clip (n, 4) resized-image boxes in place to the original image (as seen at the resized
    scale) and return the (n,) mask of the non-empty ones (w > 0 and h > 0)."""
    h, w = meta['ori_shape'][:2]
    sx, sy = meta.get('scale_factor', (1.0, 1.0))
    boxes[:, 0::2] = boxes[:, 0::2].clamp(0, w * sx)
    boxes[:, 1::2] = boxes[:, 1::2].clamp(0, h * sy)
    return (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])


__all__ = ['EVACascadeRoIHead']
