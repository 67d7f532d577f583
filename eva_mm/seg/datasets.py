"""Segmentation data helpers: the built-in synthetic shapes set, annotation loading and checks.

* :class:`ShapesSegDataset` - the ADE20K-layout set written by
  ``tools/data/make_shapes_seg.py`` (``images/{training,validation}/*.jpg``,
  ``annotations/{training,validation}/*.png``; 0 = unlabelled, 1..K = classes, read with
  ``reduce_zero_label=True`` as ADE20K).
* :class:`LoadSegAnnotations` - mmseg's ``LoadAnnotations`` whose unreadable label maps raise
  :class:`SegAnnotationError` naming the file.
* :class:`CheckSegLabels` - a pipeline step after ``LoadAnnotations`` that rejects label
  maps whose size differs from their image file's or whose ids fall outside ``[0, num_classes)``
  (other than the ignore index), naming the file, instead of failing later deep inside a
  loss or a metric.
"""
from typing import Optional

import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.datasets import BaseSegDataset
from mmseg.datasets.transforms import LoadAnnotations

from ..registry import DATASETS, TRANSFORMS


@DATASETS.register_module()
class ShapesSegDataset(BaseSegDataset):
    """Synthetic shapes on textured backgrounds, ADE20K layout (see module docstring)."""
    METAINFO = dict(
        classes=('background', 'circle', 'square', 'triangle', 'cross'),
        palette=[[120, 120, 120], [220, 20, 60], [0, 130, 200], [60, 180, 75],
                 [255, 200, 0]])

    def __init__(self, img_suffix: str = '.jpg', seg_map_suffix: str = '.png',
                 reduce_zero_label: bool = True, **kwargs) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix,
                         reduce_zero_label=reduce_zero_label, **kwargs)


class SegAnnotationError(ValueError):
    """A segmentation annotation that cannot be read or does not fit its image or its
    dataset's classes; the message names the file."""


@TRANSFORMS.register_module()
class LoadSegAnnotations(LoadAnnotations):
    """mmseg's ``LoadAnnotations`` whose unreadable label maps (corrupt or truncated PNG) raise
    :class:`SegAnnotationError` naming the file; mmseg's own error does not name it
    (``UnidentifiedImageError: cannot identify image file <_io.BytesIO ...>``). A missing file
    stays ``FileNotFoundError`` (which names it). Same arguments as ``LoadAnnotations``."""

    def _load_seg_map(self, results: dict) -> None:
        try:
            super()._load_seg_map(results)
        except (FileNotFoundError, AssertionError):  # names the file / a config mismatch
            raise
        except Exception as e:  # noqa: BLE001 - re-raised with the file name
            raise SegAnnotationError(
                f'cannot read label map {results.get("seg_map_path")} (corrupt or truncated '
                f'file?): {type(e).__name__}: {str(e).strip()[:200]}') from e


@TRANSFORMS.register_module()
class CheckSegLabels(BaseTransform):
    """Validate ``gt_seg_map`` right after ``LoadAnnotations``.

    Args:
        num_classes: valid ids are ``0 .. num_classes - 1`` (after ``reduce_zero_label``).
        ignore_index: the one id outside that range that is allowed (255).

    Raises:
        SegAnnotationError: the label map's (H, W) differs from its image file's (``ori_shape``;
            test pipelines resize the image before loading the label map), or it holds ids
            outside the class range; the message names the files and the offending ids.
    """

    def __init__(self, num_classes: int, ignore_index: int = 255) -> None:
        if not isinstance(num_classes, int) or num_classes <= 0:
            raise ValueError(f'num_classes must be a positive int, got {num_classes!r}')
        self.num_classes = num_classes
        self.ignore_index = ignore_index

    def transform(self, results: dict) -> dict:
        seg: Optional[np.ndarray] = results.get('gt_seg_map')
        where = results.get('seg_map_path', '<unknown label file>')
        if seg is None:
            raise SegAnnotationError(f'CheckSegLabels needs gt_seg_map (put it after '
                                     f'LoadAnnotations); none for {where}')
        self._check_size(results, seg, where)
        ids = np.unique(seg)
        bad = ids[((ids < 0) | (ids >= self.num_classes)) & (ids != self.ignore_index)]
        if bad.size:
            hint = (' (after reduce_zero_label: file ids were shifted down by 1)'
                    if results.get('reduce_zero_label') else '')
            raise SegAnnotationError(
                f'label map {where} holds class ids {bad.tolist()[:10]} outside '
                f'[0, {self.num_classes - 1}] and not the ignore index {self.ignore_index}'
                f'{hint}')
        return results

    @staticmethod
    def _check_size(results: dict, seg: np.ndarray, where: str) -> None:
        """The (H, W) label map must match its image as stored (``ori_shape``): test pipelines
        resize the image *before* ``LoadAnnotations`` and evaluate at the original size, so
        the loaded image (``img``) may be larger. A label map resized together with its image
        (check placed after a geometric transform) matches ``img`` and passes too."""
        img = results.get('img')
        ori = results.get('ori_shape')
        allowed = {tuple(s[:2]) for s in (ori, None if img is None else img.shape)
                   if s is not None}
        if not allowed or tuple(seg.shape[:2]) in allowed:
            return
        ref = tuple(ori[:2]) if ori is not None else tuple(img.shape[:2])
        resized = (f' (resized to {img.shape[0]}x{img.shape[1]} by the pipeline)'
                   if img is not None and tuple(img.shape[:2]) != ref else '')
        raise SegAnnotationError(
            f'label map {where} is {seg.shape[0]}x{seg.shape[1]} (HxW) but its image '
            f'{results.get("img_path", "<unknown image>")} is {ref[0]}x{ref[1]}{resized}')

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(num_classes={self.num_classes}, '
                f'ignore_index={self.ignore_index})')


__all__ = ['ShapesSegDataset', 'CheckSegLabels', 'LoadSegAnnotations', 'SegAnnotationError']


@TRANSFORMS.register_module()
class PadShortSide(BaseTransform):
    """Pad the image at its bottom and right, with ``pad_val`` in pixel values (before the
    data preprocessor normalises), to at least ``size`` x ``size``; larger sides are kept.

    The official EVA-01 ADE20K multi-scale test (``PadShortSide`` of ``EVA-01/seg``) does this
    so that every scale's sliding window is a full ``size`` crop. The pad is recorded as
    ``short_side_padding = (pad_h, pad_w)``; :class:`eva_mm.seg.EncoderDecoder` crops it off
    the prediction (``PackSegInputs`` must list the key in its ``meta_keys``). ``img_shape``
    becomes the padded size. Use it at test time only, before any label map is loaded.
    """

    def __init__(self, size: int, pad_val: float = 0) -> None:
        if not isinstance(size, int) or size <= 0:
            raise ValueError(f'PadShortSide: size must be a positive int, got {size!r}')
        self.size = size
        self.pad_val = pad_val

    def transform(self, results: dict) -> dict:
        """Pad ``results['img']``; set ``img_shape``, ``pad_shape``, ``short_side_padding``."""
        if results.get('gt_seg_map') is not None:
            raise ValueError('PadShortSide pads the image only: put it before the label map '
                             'is loaded (the prediction is unpadded to the original size)')
        img = results['img']
        h, w = img.shape[:2]
        pad_h, pad_w = max(self.size - h, 0), max(self.size - w, 0)
        if pad_h or pad_w:
            widths = [(0, pad_h), (0, pad_w)] + [(0, 0)] * (img.ndim - 2)
            img = np.pad(img, widths, mode='constant', constant_values=self.pad_val)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['pad_shape'] = img.shape[:2]
        results['short_side_padding'] = (pad_h, pad_w)
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(size={self.size}, pad_val={self.pad_val})'
