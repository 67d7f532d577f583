"""mmseg's ``EncoderDecoder`` that also removes the padding :class:`eva_mm.seg.PadShortSide`
added, as the official EVA-01 ``EncoderDecoderMask2FormerAug`` does for its ADE20K
multi-scale test (crop the pad off the full-image prediction, then flip back and resize to
the original size)."""
from typing import List, Optional

from mmseg.models.segmentors import EncoderDecoder as MMSegEncoderDecoder
from torch import Tensor

from ..registry import MODELS


@MODELS.register_module()
class EncoderDecoder(MMSegEncoderDecoder):
    """mmseg's ``EncoderDecoder``; a sample whose meta holds ``short_side_padding = (pad_h,
    pad_w)`` (bottom, right) has that pad cropped off too, before the flip back and the resize
    to ``ori_shape``. Identical to mmseg's for every other sample."""

    def postprocess_result(self, seg_logits: Tensor,
                           data_samples: Optional[List] = None) -> List:
        """Add the short-side pad to the padding mmseg removes, then mmseg's postprocess."""
        for sample in data_samples or []:
            pad = sample.metainfo.get('short_side_padding')
            if not pad or not any(pad):
                continue
            meta = sample.metainfo
            base = meta['img_padding_size'] if 'img_padding_size' in meta else meta.get(
                'padding_size', [0] * 4)
            left, right, top, bottom = base
            # the data preprocessor's own pad (size / size_divisor) lies outside ours
            sample.set_metainfo(dict(img_padding_size=[left, right + pad[1], top,
                                                       bottom + pad[0]],
                                     short_side_padding=(0, 0)))
        return super().postprocess_result(seg_logits, data_samples)


__all__ = ['EncoderDecoder']
