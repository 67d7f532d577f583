"""eva_mm.PadShortSide + eva_mm.EncoderDecoder: the official EVA-01 ADE20K multi-scale test
pads every scale to at least the window size (black pixels, before normalisation) and crops
that pad off the prediction before the flip back and the resize to the original size."""
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import init_default_scope

import eva_mm  # noqa: F401
from eva_mm.seg import PadShortSide

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
TINY = osp.join(ROOT, 'configs', 'seg', 'eva-tiny_mask2former_shapes.py')
META_KEYS = ('img_path', 'ori_shape', 'img_shape', 'pad_shape', 'scale_factor', 'flip',
             'flip_direction', 'short_side_padding')


def test_pad_short_side_transform():
    img = np.full((20, 70, 3), 200, np.uint8)
    out = PadShortSide(size=32)(dict(img=img.copy(), img_shape=(20, 70)))
    assert out['img'].shape == (32, 70, 3) and out['short_side_padding'] == (12, 0)
    assert (out['img'][:20] == 200).all() and (out['img'][20:] == 0).all()  # bottom, black
    assert out['img_shape'] == (32, 70) and out['pad_shape'] == (32, 70)
    big = PadShortSide(size=16)(dict(img=img.copy()))
    assert big['img'].shape == img.shape and big['short_side_padding'] == (0, 0)
    with pytest.raises(ValueError, match='before the label map'):
        PadShortSide(size=32)(dict(img=img, gt_seg_map=np.zeros((20, 70), np.uint8)))
    with pytest.raises(ValueError, match='positive int'):
        PadShortSide(size=(32, 32))


@pytest.mark.parametrize('flip', [False, True])
def test_encoder_decoder_crops_the_short_side_pad(flip):
    """Prediction through the pipeline = the model on the padded image, the pad cropped, then
    flipped back; mmseg's plain postprocess (pad kept, stretched to the original size) is
    different, so the test fails when the pad is not removed."""
    from mmcv.transforms import RandomFlip
    from mmseg.datasets.transforms import PackSegInputs
    from mmseg.registry import MODELS
    torch.manual_seed(0)
    init_default_scope('mmseg')
    cfg = Config.fromfile(TINY)
    model = MODELS.build(cfg.model).eval()
    rng = np.random.RandomState(0)
    h, w = 40, 56
    img = rng.randint(0, 256, (h, w, 3)).astype(np.uint8)
    res = dict(img=img, img_path='x.jpg', ori_shape=(h, w), img_shape=(h, w),
               scale_factor=(1., 1.))
    res = RandomFlip(prob=float(flip), direction='horizontal')(res)
    res = PadShortSide(size=64)(res)
    assert res['short_side_padding'] == (24, 8)
    data = PackSegInputs(meta_keys=META_KEYS)(res)
    batch = dict(inputs=[data['inputs']], data_samples=[data['data_samples']])
    with torch.no_grad():
        pred = model.test_step(batch)[0].seg_logits.data
        prep = model.data_preprocessor(dict(inputs=[data['inputs']],
                                            data_samples=[data['data_samples']]), False)
        meta = prep['data_samples'][0].metainfo
        full = model.inference(prep['inputs'], [meta])  # (1, C, 64, 64): padded input
    assert full.shape[-2:] == (64, 64)
    want = full[0, :, :h, :w]
    if flip:
        want = want.flip(-1)
    assert pred.shape == want.shape
    torch.testing.assert_close(pred, want)
    stretched = F.interpolate(full, size=(h, w), mode='bilinear', align_corners=False)[0]
    if flip:
        stretched = stretched.flip(-1)
    assert not torch.allclose(pred, stretched, atol=1e-3)
