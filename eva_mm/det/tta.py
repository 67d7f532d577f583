"""Test-time augmentation that also merges instance masks (mmdet's ``DetTTAModel`` refuses
masks)."""
from typing import Any, List

import torch
from mmcv.ops import batched_nms
from mmdet.models.test_time_augs import DetTTAModel
from mmdet.structures import DetDataSample
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData

from ..registry import MODELS


def unflip_masks(masks: torch.Tensor, direction: str) -> torch.Tensor:
    """Undo a flip of (n, H, W) masks."""
    dims = {'horizontal': [-1], 'vertical': [-2], 'diagonal': [-2, -1]}
    if direction not in dims:
        raise ValueError(f'unknown flip direction {direction!r}')
    return masks.flip(dims[direction])


def refuse_nested_tta(wrapper: str, module: Any) -> None:
    """Raise a clear ``ValueError`` when a TTA model's ``module`` config is itself a TTA model
    (``tools/test.py X_tta.py --tta``: the views would reach the inner wrapper's data
    preprocessor one by one and die deep inside mmdet / mmseg)."""
    if isinstance(module, dict) and 'module' in module:
        raise ValueError(f'{wrapper} around another test-time-augmentation model '
                         f'({module.get("type")}): the config tests with TTA already (a *_tta.py '
                         f'/ *_ms.py config); run tools/test.py on it without --tta')


@MODELS.register_module()
class DetMaskTTAModel(DetTTAModel):
    """``DetTTAModel`` for detectors with masks: boxes of all views are un-flipped and merged
    by ``tta_cfg.nms`` (any mmcv NMS incl. Soft-NMS); the masks (already at the original
    image size, ``rescale=True``) of the kept boxes follow them, un-flipped. Without masks it
    behaves as ``DetTTAModel``.

    Args:
        tta_cfg: ``dict(nms=dict(type='nms' | 'soft_nms', iou_threshold=...), max_per_img=N)``;
            ``max_per_img=-1`` keeps all.
        **kwargs: ``DetTTAModel`` arguments (``module``, ``data_preprocessor``).
    """

    def __init__(self, tta_cfg: dict, **kwargs) -> None:
        missing = [k for k in ('nms', 'max_per_img') if k not in tta_cfg]
        if missing:
            raise ValueError(f'DetMaskTTAModel tta_cfg needs {missing}')
        refuse_nested_tta('DetMaskTTAModel', kwargs.get('module'))
        super().__init__(tta_cfg=ConfigDict(tta_cfg), **kwargs)

    def _merge_single_sample(self, data_samples: List[DetDataSample]) -> DetDataSample:
        if data_samples[0].pred_instances.get('masks', None) is None:
            return super()._merge_single_sample(data_samples)
        bboxes, scores, labels, masks, metas = [], [], [], [], []
        for ds in data_samples:
            p = ds.pred_instances
            bboxes.append(p.bboxes)
            scores.append(p.scores)
            labels.append(p.labels)
            m = p.masks
            if ds.metainfo.get('flip', False):
                m = unflip_masks(m, ds.metainfo['flip_direction'])
            masks.append(m)
            metas.append(ds.metainfo)
        shapes = {tuple(m.shape[-2:]) for m in masks}
        if len(shapes) > 1:
            raise ValueError(f'DetMaskTTAModel needs masks at the original image size in every '
                             f'view (rescale=True), got sizes {sorted(shapes)}')
        merged_bboxes, merged_scores = self.merge_aug_bboxes(bboxes, scores, metas)
        merged_labels = torch.cat(labels)
        merged_masks = torch.cat(masks)
        if merged_bboxes.numel() == 0:
            return data_samples[0]
        dets, keep = batched_nms(merged_bboxes, merged_scores, merged_labels, self.tta_cfg.nms)
        n = self.tta_cfg.max_per_img
        if n > 0:  # -1 keeps every merged detection (the COCO Soft-NMS protocol has no top-k)
            dets, keep = dets[:n], keep[:n]
        res = InstanceData()
        res.bboxes = dets[:, :-1].clone()
        res.scores = dets[:, -1].clone()
        res.labels = merged_labels[keep]
        res.masks = merged_masks[keep]
        out = data_samples[0]
        out.pred_instances = res
        return out


__all__ = ['DetMaskTTAModel', 'unflip_masks']
