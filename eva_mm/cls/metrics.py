"""Metrics for the ImageNet robustness sets EVA is evaluated on (SPEC §3).

* :class:`SubsetAccuracy` -- ImageNet-A / ImageNet-R hold 200 of the 1000 ImageNet classes: the
  unchanged 1000-way classifier is evaluated by keeping only the logits of those 200 classes
  (as the official EVA evaluation and the datasets' authors do) and taking top-k among them.
* :class:`ReaLAccuracy` -- ImageNet-ReaL: the ImageNet val images relabelled with *sets* of
  plausible labels; a prediction is right if it is in the set; images whose set is empty are
  not counted.

The class lists (ImageNet-1K, -A and -R WordNet ids) and the ReaL labels are the copies that
ship with timm (``timm/data/_info``), part of eva_mm's stack.
"""
import json
import os.path as osp
import pkgutil
from typing import Dict, List, Optional, Sequence, Union

import torch
from mmengine.evaluator import BaseMetric
from mmpretrain.evaluation import Accuracy

from ..registry import METRICS

SUBSETS = ('imagenet-a', 'imagenet-r')


def _timm_info(name: str) -> bytes:
    data = pkgutil.get_data('timm.data', osp.join('_info', name))
    if data is None:
        raise FileNotFoundError(f'timm/data/_info/{name} not found (timm >= 0.9 ships it)')
    return data


def imagenet_synsets() -> List[str]:
    """The 1000 ImageNet-1K WordNet ids in class-index order (sorted)."""
    return _timm_info('imagenet_synsets.txt').decode().split()


def subset_synsets(subset: str) -> List[str]:
    """The 200 WordNet ids of ``'imagenet-a'`` or ``'imagenet-r'``, sorted."""
    if subset not in SUBSETS:
        raise ValueError(f'unknown ImageNet subset {subset!r}; choose from {SUBSETS}')
    return sorted(_timm_info(f"imagenet_{subset[-1]}_synsets.txt").decode().split())


def subset_indices(subset: str) -> List[int]:
    """Indices into the 1000 ImageNet-1K logits of the classes of ``subset`` (ascending)."""
    full = {w: i for i, w in enumerate(imagenet_synsets())}
    return sorted(full[w] for w in subset_synsets(subset))


@METRICS.register_module()
class SubsetAccuracy(Accuracy):
    """Top-k accuracy of a 1000-way ImageNet classifier on a class subset (IN-A, IN-R).

    The scores of the classes outside the subset are dropped, so ``pred_score`` (1000,)
    becomes (K,), and the ground-truth labels must be subset-local (0..K-1), i.e. the order of
    the subset's sorted WordNet-id folders -- what mmpretrain's ``CustomDataset`` gives for an
    image folder ``<root>/<wnid>/*.jpg``. When the dataset reports its classes and they are
    WordNet ids, they are checked against the subset.

    Args:
        subset: ``'imagenet-a'`` or ``'imagenet-r'`` (class lists from timm).
        indices: or explicit logit indices of the kept classes (ascending, unique).
        num_full_classes: size of the classifier's output (1000).
        topk: as :class:`mmpretrain.evaluation.Accuracy`.
    """
    default_prefix: Optional[str] = 'accuracy'

    def __init__(self,
                 subset: Optional[str] = None,
                 indices: Optional[Sequence[int]] = None,
                 num_full_classes: int = 1000,
                 topk: Union[int, Sequence[int]] = (1, ),
                 **kwargs) -> None:
        super().__init__(topk=topk, thrs=None, **kwargs)
        if (subset is None) == (indices is None):
            raise ValueError('SubsetAccuracy needs exactly one of subset= or indices=')
        self.subset = subset
        idx = subset_indices(subset) if subset is not None else [int(i) for i in indices]
        if len(set(idx)) != len(idx) or idx != sorted(idx):
            raise ValueError('SubsetAccuracy indices must be unique and ascending')
        if not idx or idx[0] < 0 or idx[-1] >= num_full_classes:
            raise ValueError(f'SubsetAccuracy indices must lie in [0, {num_full_classes}), got '
                             f'{idx[:1]}..{idx[-1:]}')
        if max(self.topk) > len(idx):
            raise ValueError(f'top-{max(self.topk)} needs more than the {len(idx)} subset classes')
        self.indices = torch.tensor(idx, dtype=torch.long)
        self.num_full_classes = num_full_classes
        self._checked_meta = False

    def _check_meta(self) -> None:
        self._checked_meta = True
        classes = (self.dataset_meta or {}).get('classes')
        if self.subset is None or not classes or not str(classes[0]).startswith('n'):
            return
        expected = subset_synsets(self.subset)
        if list(classes) != expected:
            extra = sorted(set(classes) - set(expected))[:5]
            missing = sorted(set(expected) - set(classes))[:5]
            raise ValueError(f'the dataset classes are not the {len(expected)} {self.subset} '
                             f'WordNet ids (unexpected {extra}, missing {missing}); label order '
                             f'would not match the logit subset')

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        if not self._checked_meta:
            self._check_meta()
        for ds in data_samples:
            score = ds.get('pred_score')
            if score is None:
                raise ValueError('SubsetAccuracy needs pred_score (class scores), got only labels')
            if score.shape[-1] != self.num_full_classes:
                raise ValueError(f'SubsetAccuracy expects {self.num_full_classes} class scores, '
                                 f'got {score.shape[-1]}')
            gt = ds['gt_label'].cpu()
            if int(gt.max()) >= len(self.indices) or int(gt.min()) < 0:
                raise ValueError(f'ground-truth label {gt.tolist()} is not a subset-local label '
                                 f'(0..{len(self.indices) - 1})')
            self.results.append(dict(pred_score=score.cpu()[self.indices], gt_label=gt))


def load_real_labels(real_json: Optional[str] = None) -> List[List[int]]:
    """ReaL label sets of the 50000 ImageNet val images (index i = ILSVRC2012_val_{i+1})."""
    if real_json is None:
        labels = json.loads(_timm_info('imagenet_real_labels.json').decode())
    else:
        if not osp.isfile(real_json):
            raise FileNotFoundError(f'ReaL labels file {real_json} not found')
        with open(real_json) as f:
            labels = json.load(f)
    if not isinstance(labels, list) or not all(isinstance(x, list) for x in labels):
        raise ValueError('ReaL labels must be a JSON list of label lists (one per val image)')
    return labels


@METRICS.register_module()
class ReaLAccuracy(BaseMetric):
    """ImageNet-ReaL top-k accuracy (Beyer et al. 2020).

    Each ImageNet val image (``ILSVRC2012_val_XXXXXXXX.JPEG``, matched by the file name of
    ``img_path``) has a set of correct labels; a top-k prediction is correct if any of its k
    classes is in the set; images with an empty set are skipped.

    Args:
        real_json: the ``real.json`` list; default: the copy shipped with timm.
        topk: k values.
    """
    default_prefix: Optional[str] = 'real'

    def __init__(self, real_json: Optional[str] = None, topk: Union[int, Sequence[int]] = (1, ),
                 collect_device: str = 'cpu', prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.topk = (topk, ) if isinstance(topk, int) else tuple(topk)
        labels = load_real_labels(real_json)
        self.real: Dict[str, List[int]] = {
            f'ILSVRC2012_val_{i + 1:08d}': v for i, v in enumerate(labels)}

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        k = max(self.topk)
        for ds in data_samples:
            if 'img_path' not in ds:
                raise ValueError('ReaLAccuracy needs img_path in the data samples (PackInputs '
                                 'keeps it by default)')
            name = osp.splitext(osp.basename(ds['img_path']))[0]
            if name not in self.real:
                raise ValueError(f'{ds["img_path"]} is not an ImageNet val image '
                                 f'(ILSVRC2012_val_XXXXXXXX.JPEG): no ReaL labels for it')
            score = ds.get('pred_score')
            if score is None:
                raise ValueError('ReaLAccuracy needs pred_score (class scores)')
            top = score.topk(k).indices.cpu().tolist()
            self.results.append(dict(top=top, real=self.real[name]))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        counted = [r for r in results if r['real']]
        if not counted:
            raise ValueError('no evaluated image has a ReaL label set')
        out = {}
        for k in self.topk:
            hits = sum(bool(set(r['top'][:k]) & set(r['real'])) for r in counted)
            out[f'top{k}'] = 100.0 * hits / len(counted)
        return out


__all__ = ['SubsetAccuracy', 'ReaLAccuracy', 'subset_indices', 'subset_synsets',
           'imagenet_synsets', 'load_real_labels']
