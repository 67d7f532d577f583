"""Pre-training datasets, the tar-shard image loader and the MIM validation metric."""
import os.path as osp
from typing import List, Optional, Sequence

import mmcv
import numpy as np
import torch
from mmcv.transforms import LoadImageFromFile
from mmengine.dataset import BaseDataset
from mmengine.evaluator import BaseMetric

from ..registry import DATASETS, METRICS, TRANSFORMS


@DATASETS.register_module()
class CaptionedImageDataset(BaseDataset):
    """Images with captions (and optionally class labels), from one mmengine-style JSON file::

        {"metainfo": {"classes": ["red circle", ...]},
         "data_list": [{"img_path": "0001.png", "caption": "a red circle", "gt_label": 0}, ...]}

    ``img_path`` is relative to ``data_prefix['img_path']`` (or ``data_root``). ``caption``
    may be a string or a list of strings; ``gt_label`` is needed only for zero-shot evaluation.
    """

    def __init__(self, ann_file: str, with_caption: bool = True, with_label: bool = False,
                 **kwargs) -> None:
        self.with_caption = with_caption
        self.with_label = with_label
        super().__init__(ann_file=ann_file, **kwargs)

    def parse_data_info(self, raw: dict) -> dict:
        if not isinstance(raw, dict) or 'img_path' not in raw:
            raise ValueError(f'{self.ann_file}: every entry needs "img_path", got {raw!r}')
        info = dict(raw)
        prefix = self.data_prefix.get('img_path', '')
        info['img_path'] = osp.join(prefix, raw['img_path']) if prefix else raw['img_path']
        if self.with_caption:
            cap = raw.get('caption')
            if not (isinstance(cap, str) and cap.strip()) and not (
                    isinstance(cap, list) and cap and all(isinstance(c, str) for c in cap)):
                raise ValueError(f'{self.ann_file}: entry {raw["img_path"]!r} has no valid '
                                 f'caption (got {cap!r})')
        if self.with_label:
            classes = self.metainfo.get('classes') or ()
            lab = raw.get('gt_label')
            if not isinstance(lab, int) or not 0 <= lab < len(classes):
                raise ValueError(f'{self.ann_file}: entry {raw["img_path"]!r} has gt_label '
                                 f'{lab!r}, not an index into the {len(classes)} classes')
        return info


@TRANSFORMS.register_module()
class LoadImageFromShard(LoadImageFromFile):
    """mmcv's ``LoadImageFromFile`` that also reads an image stored inside a tar shard.

    An entry with ``img_offset`` and ``img_nbytes`` (written by
    ``tools/data/build_laion_index.py`` for img2dataset tar shards) is decoded from exactly
    those bytes of ``img_path`` (the tar); any other entry is an image file, loaded as by
    ``LoadImageFromFile``. Sets ``img``, ``img_shape``, ``ori_shape``.
    """

    def transform(self, results: dict) -> Optional[dict]:
        if results.get('img_offset') is None:
            return super().transform(results)
        path, offset, nbytes = results['img_path'], results['img_offset'], results['img_nbytes']
        where = f'{path} (sample {results.get("key", "?")}, bytes {offset}..{offset + nbytes})'
        with open(path, 'rb') as f:
            f.seek(offset)
            data = f.read(nbytes)
        if len(data) != nbytes:
            raise ValueError(f'{where}: only {len(data)} bytes there; truncated shard? Rebuild '
                             f'the index with tools/data/build_laion_index.py')
        img = mmcv.imfrombytes(data, flag=self.color_type, backend=self.imdecode_backend)
        if img is None:
            raise ValueError(f'{where}: the bytes do not decode as an image (corrupt sample, '
                             f'or a stale index for a rewritten shard)')
        if self.to_float32:
            img = img.astype(np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results


@METRICS.register_module()
class MaskedCosineSimilarity(BaseMetric):
    """Mean cosine similarity between MIM predictions and teacher targets on masked patches
    (the per-sample ``mim_cos_sim`` of :meth:`EVAMIM.forward` in predict mode)."""
    default_prefix = 'mim'

    def process(self, data_batch, data_samples: Sequence) -> None:
        for ds in data_samples:
            v = ds.get('mim_cos_sim') if isinstance(ds, dict) else getattr(ds, 'mim_cos_sim', None)
            if v is None:
                raise ValueError('MaskedCosineSimilarity needs EVAMIM predictions (mim_cos_sim)')
            self.results.append(float(v))

    def compute_metrics(self, results: List[float]) -> dict:
        return dict(cos_sim=float(torch.tensor(results).mean()))
