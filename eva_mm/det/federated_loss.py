"""Sigmoid classification loss with LVIS federated negative-class sampling (detectron2-style).

Federated loss (Zhou et al., "Probabilistic two-stage detection"; detectron2's
``FastRCNNOutputLayers(use_sigmoid_ce=True, use_fed_loss=True)``): per RoI, a binary
cross-entropy over the classes, but only over the classes of a sampled set ``S``: every class
present among the batch's RoI labels, plus negative classes drawn without replacement with
probability proportional to ``image_count ** freq_weight_power`` until ``|S|`` reaches
``num_fed_loss_classes`` (50). The loss is summed over RoIs and classes in ``S`` and divided by
the number of RoIs. The classifier keeps detectron2's ``num_classes + 1`` logits; the last
(background) logit is never trained nor used.
"""
import json
import os.path as osp
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import nn

from ..registry import MODELS


def fed_loss_class_weights(source: Union[str, Sequence[float]], power: float = 0.5
                           ) -> torch.Tensor:
    """Per-class sampling weights ``image_count ** power`` (K,).

    ``source``: a list of per-class image counts, or a json file: LVIS-format annotations
    (``categories[i]['image_count']``, in file order = mmdet's label order) or a plain list.
    """
    if isinstance(source, str):
        if not osp.isfile(source):
            raise FileNotFoundError(f'federated loss: class-frequency file {source!r} not found '
                                    '(an LVIS-format json with categories[].image_count)')
        with open(source) as f:
            data = json.load(f)
        if isinstance(data, dict):
            cats = data.get('categories')
            if not cats or any('image_count' not in c for c in cats):
                raise ValueError(f'federated loss: {source} has no categories[].image_count '
                                 '(needs LVIS-format annotations)')
            counts = [c['image_count'] for c in cats]
        else:
            counts = list(data)
    else:
        counts = list(source)
    w = torch.as_tensor(counts, dtype=torch.float)
    if w.ndim != 1 or (w < 0).any():
        raise ValueError('federated loss: class image counts must be a 1-D list of non-negative '
                         'numbers')
    return w.pow(power)


def get_fed_loss_classes(labels: torch.Tensor, num_fed_loss_classes: int, num_classes: int,
                         weight: torch.Tensor) -> torch.Tensor:
    """Classes in the federated set: the labels present (foreground only) plus negatives
    sampled by ``weight`` (K,) without replacement up to ``num_fed_loss_classes``.

    Args:
        labels: (N,) RoI labels in [0, K], K = background.
    Returns:
        (M,) long class indices in [0, K).
    """
    present = torch.unique(labels)
    present = present[present < num_classes]
    if len(present) >= num_fed_loss_classes:
        return present
    prob = weight.to(labels.device, torch.float).clone()
    prob[present] = 0
    n_neg = min(num_fed_loss_classes - len(present), int((prob > 0).sum()))
    if n_neg <= 0:
        return present
    neg = torch.multinomial(prob, n_neg, replacement=False)
    return torch.cat([present, neg])


@MODELS.register_module()
class FederatedLoss(nn.Module):
    """Sigmoid cross-entropy for R-CNN box heads, optionally federated (LVIS).

    Use as ``loss_cls`` of mmdet's box heads; it sets the classifier to ``num_classes + 1``
    logits and sigmoid scores at test time (mmdet's ``custom_cls_channels`` hooks).

    Args:
        num_classes: K foreground classes.
        use_fed_loss: False: BCE over all K classes (plain sigmoid classification).
        class_freq: per-class image counts, or a json path (LVIS annotations); needed when
            ``use_fed_loss``. Read on first use, so configs build without the file.
        num_fed_loss_classes: size of the federated class set (detectron2: 50).
        freq_weight_power: sampling weight = image_count ** power (detectron2: 0.5).
        loss_weight: loss multiplier.
    """
    custom_cls_channels = True
    custom_activation = True
    custom_accuracy = True

    def __init__(self,
                 num_classes: int,
                 use_fed_loss: bool = True,
                 class_freq: Optional[Union[str, Sequence[float]]] = None,
                 num_fed_loss_classes: int = 50,
                 freq_weight_power: float = 0.5,
                 loss_weight: float = 1.0) -> None:
        super().__init__()
        if use_fed_loss and class_freq is None:
            raise ValueError('FederatedLoss(use_fed_loss=True) needs class_freq (per-class image '
                             'counts or an LVIS annotation json)')
        if num_fed_loss_classes <= 0:
            raise ValueError(f'num_fed_loss_classes must be positive, got {num_fed_loss_classes}')
        self.num_classes = num_classes
        self.use_fed_loss = use_fed_loss
        self.class_freq = class_freq
        self.num_fed_loss_classes = num_fed_loss_classes
        self.freq_weight_power = freq_weight_power
        self.loss_weight = loss_weight
        self._weight: Optional[torch.Tensor] = None

    @property
    def fed_weight(self) -> torch.Tensor:
        """(K,) sampling weights of the negative classes (loaded lazily)."""
        if self._weight is None:
            w = fed_loss_class_weights(self.class_freq, self.freq_weight_power)
            if len(w) != self.num_classes:
                raise ValueError(f'federated loss: class_freq has {len(w)} classes but the head '
                                 f'has num_classes={self.num_classes}')
            self._weight = w
        return self._weight

    # -- mmdet hooks -----------------------------------------------------------------------------
    def get_cls_channels(self, num_classes: int) -> int:
        return num_classes + 1

    def get_activation(self, cls_score: torch.Tensor) -> torch.Tensor:
        """(N, K + 1) logits -> (N, K + 1) scores: sigmoid of the K classes, then a zero column
        in the background slot (mmdet drops it)."""
        scores = cls_score[:, :-1].sigmoid()
        return torch.cat([scores, scores.new_zeros(scores.shape[0], 1)], dim=1)

    def get_accuracy(self, cls_score: torch.Tensor, labels: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Foreground accuracy: argmax class of the positive RoIs equals their label (%)."""
        pos = labels < self.num_classes
        if not pos.any():
            return dict(acc=cls_score.new_tensor(0.))
        pred = cls_score[pos, :-1].argmax(1)
        return dict(acc=(pred == labels[pos]).float().mean() * 100)

    def forward(self,
                cls_score: torch.Tensor,
                labels: torch.Tensor,
                weight: Optional[torch.Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None) -> torch.Tensor:
        """
        Args:
            cls_score: (N, K + 1) logits.
            labels: (N,) in [0, K]; K is background (all-zero target).
            weight: (N,) per-RoI weights (mmdet's label weights).
            avg_factor: divisor of the summed loss (default N, as detectron2).
        """
        N = cls_score.shape[0]
        K = self.num_classes
        if cls_score.shape[1] != K + 1:
            raise ValueError(f'FederatedLoss expects {K + 1} logits, got {cls_score.shape[1]}')
        if N == 0:
            return cls_score.sum() * 0.
        logits = cls_score[:, :K]
        target = F.one_hot(labels.long(), K + 1)[:, :K].to(logits.dtype)
        loss = F.binary_cross_entropy_with_logits(logits, target, reduction='none')
        if self.use_fed_loss:
            classes = get_fed_loss_classes(labels, self.num_fed_loss_classes, K, self.fed_weight)
            mask = logits.new_zeros(K)
            mask[classes] = 1
            loss = loss * mask[None]
        if weight is not None:
            loss = loss * weight.to(loss.dtype)[:, None]
        reduction = reduction_override or 'mean'
        if reduction == 'none':
            return self.loss_weight * loss.sum(1)
        if reduction == 'sum':
            return self.loss_weight * loss.sum()
        return self.loss_weight * loss.sum() / (avg_factor if avg_factor is not None else N)


__all__ = ['FederatedLoss', 'get_fed_loss_classes', 'fed_loss_class_weights']
