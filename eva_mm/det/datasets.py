"""COCO / LVIS datasets that report bad annotations instead of dropping them silently.

Behaviour (documented in docs/det.md, tested in tests/test_det_data.py):

* annotation with an unknown ``category_id`` (not among the file's categories): ValueError
  naming the annotation id, the image and the category id (the file is inconsistent);
* zero-area / degenerate (w or h < 1) box, or box entirely outside its image: skipped, one
  ``UserWarning`` per dataset naming the skipped annotations (id + image file);
* image without annotations: kept at test time (it is evaluated), dropped from training
  when ``filter_cfg.filter_empty_gt`` with a ``UserWarning`` naming the images;
* missing image file: ``missing_images='error'`` (default) raises FileNotFoundError listing
  the missing files when the dataset is loaded; ``'skip'`` drops them with a ``UserWarning``;
  ``'ignore'`` does not look (the loader then fails at read time naming the file).
"""
import os.path as osp
import warnings
from typing import Dict, List, Union

from mmdet.datasets import CocoDataset, LVISV1Dataset

from ..registry import DATASETS

_SHOW = 8  # names listed in one warning


def _names(items: List[str]) -> str:
    more = f' ... (+{len(items) - _SHOW} more)' if len(items) > _SHOW else ''
    return ', '.join(items[:_SHOW]) + more


class AnnotationChecksMixin:
    """Checks for mmdet's COCO-style datasets; see the module docstring."""
    MISSING_IMAGE_MODES = ('error', 'skip', 'ignore')

    def __init__(self, *args, missing_images: str = 'error', **kwargs) -> None:
        if missing_images not in self.MISSING_IMAGE_MODES:
            raise ValueError(f'missing_images must be one of {self.MISSING_IMAGE_MODES}, '
                             f'got {missing_images!r}')
        self.missing_images = missing_images
        self._bad_boxes: List[str] = []
        super().__init__(*args, **kwargs)

    def _api_cats(self) -> Dict[int, dict]:
        api = getattr(self, 'coco', None) or getattr(self, 'lvis', None)
        return api.cats if api is not None else {}

    def parse_data_info(self, raw_data_info: dict) -> Union[dict, List[dict]]:
        img = raw_data_info['raw_img_info']
        cats = self._api_cats()
        fname = img.get('file_name', img.get('coco_url', img['img_id']))
        for ann in raw_data_info['raw_ann_info']:
            cid = ann.get('category_id')
            if cats and cid not in cats:
                raise ValueError(f'{self.ann_file}: annotation id {ann.get("id")} of image '
                                 f'{fname!r} has category_id {cid!r}, which is not among the '
                                 f'file\'s {len(cats)} categories')
            bbox = ann.get('bbox')
            if bbox is None or len(bbox) != 4:
                raise ValueError(f'{self.ann_file}: annotation id {ann.get("id")} of image '
                                 f'{fname!r} has no valid bbox [x, y, w, h]: {bbox!r}')
            x, y, w, h = bbox
            inter_w = min(x + w, img['width']) - max(x, 0)
            inter_h = min(y + h, img['height']) - max(y, 0)
            if w < 1 or h < 1 or ann.get('area', w * h) <= 0:
                self._bad_boxes.append(f'ann {ann.get("id")} ({fname}: zero-area box {bbox})')
            elif inter_w <= 0 or inter_h <= 0:
                self._bad_boxes.append(f'ann {ann.get("id")} ({fname}: box {bbox} outside the '
                                       f'{img["width"]}x{img["height"]} image)')
        return super().parse_data_info(raw_data_info)

    def load_data_list(self) -> List[dict]:
        self._bad_boxes = []
        data_list = super().load_data_list()
        if self._bad_boxes:
            warnings.warn(f'{self.ann_file}: skipped {len(self._bad_boxes)} annotation(s) with '
                          f'unusable boxes: {_names(self._bad_boxes)}')
        if self.missing_images != 'ignore':
            missing = [d['img_path'] for d in data_list if not osp.isfile(d['img_path'])]
            if missing and self.missing_images == 'error':
                raise FileNotFoundError(f'{self.ann_file}: {len(missing)} image file(s) not '
                                        f'found: {_names(missing)}')
            if missing:
                warnings.warn(f'{self.ann_file}: skipped {len(missing)} image(s) whose file is '
                              f'missing: {_names(missing)}')
                gone = set(missing)
                data_list = [d for d in data_list if d['img_path'] not in gone]
        return data_list

    def filter_data(self) -> List[dict]:
        kept = super().filter_data()
        if not self.test_mode and self.filter_cfg and self.filter_cfg.get('filter_empty_gt'):
            kept_ids = {d['img_id'] for d in kept}
            dropped = [osp.basename(d['img_path']) for d in self.data_list
                       if d['img_id'] not in kept_ids and not d['instances']]
            if dropped:
                warnings.warn(f'{self.ann_file}: {len(dropped)} training image(s) without '
                              f'usable annotations are not used: {_names(dropped)}')
        return kept


@DATASETS.register_module()
class CheckedCocoDataset(AnnotationChecksMixin, CocoDataset):
    """mmdet's ``CocoDataset`` with the annotation checks of :mod:`eva_mm.det.datasets`."""


@DATASETS.register_module()
class CheckedLVISV1Dataset(AnnotationChecksMixin, LVISV1Dataset):
    """mmdet's ``LVISV1Dataset`` with the annotation checks of :mod:`eva_mm.det.datasets`."""


__all__ = ['AnnotationChecksMixin', 'CheckedCocoDataset', 'CheckedLVISV1Dataset']
