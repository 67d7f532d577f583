"""The pinned stack: everything imports, mmcv's compiled ops are right on CPU, and eva_mm's
registries resolve from every mm* library's scope."""
import math

import pytest
import torch


def test_every_stack_package_imports():
    import deepspeed  # noqa: F401
    import decord  # noqa: F401
    import lvis  # noqa: F401
    import mmaction.models  # noqa: F401
    import mmcv
    import mmdet.models  # noqa: F401
    import mmengine
    import mmpretrain.models  # noqa: F401
    import mmseg.models  # noqa: F401
    import open_clip  # noqa: F401
    import pycocotools.mask  # noqa: F401
    import timm  # noqa: F401
    assert mmcv.__version__ == '2.1.0' and mmengine.__version__ == '0.10.7'
    assert torch.__version__.split('+')[0] == '2.14.1'


def test_mmcv_is_built_with_compiled_ops():
    from mmcv.utils import ext_loader
    ext = ext_loader.load_ext('_ext', ['nms', 'softnms', 'roi_align_forward',
                                       'ms_deform_attn_forward'])
    assert ext is not None


def test_nms_and_soft_nms_by_hand():
    from mmcv.ops import nms, soft_nms
    boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 11., 11.], [20., 20., 30., 30.]])
    scores = torch.tensor([0.9, 0.8, 0.7])
    iou01 = 81. / (100. + 100. - 81.)  # overlap 9x9 = 81 (mmcv: x2 - x1, no +1)
    dets, keep = nms(boxes, scores, iou_threshold=0.5)
    assert keep.tolist() == [0, 2]
    assert torch.allclose(dets[:, 4], torch.tensor([0.9, 0.7]))
    _, keep = nms(boxes, scores, iou_threshold=0.7)  # 0.68 < 0.7: nothing suppressed
    assert keep.tolist() == [0, 1, 2]
    dets, keep = soft_nms(boxes, scores, iou_threshold=0.3, sigma=0.5, min_score=1e-3,
                          method='gaussian')
    got = {int(k): float(s) for k, s in zip(keep, dets[:, 4])}
    assert got[0] == pytest.approx(0.9, abs=1e-6)
    assert got[1] == pytest.approx(0.8 * math.exp(-iou01**2 / 0.5), abs=1e-5)
    assert got[2] == pytest.approx(0.7, abs=1e-6)
    dets, keep = soft_nms(boxes, scores, iou_threshold=0.3, method='linear')
    got = {int(k): float(s) for k, s in zip(keep, dets[:, 4])}
    assert got[1] == pytest.approx(0.8 * (1 - iou01), abs=1e-5)


def test_roi_align_on_a_linear_ramp():
    """Bilinear sampling of f(y, x) = x is exact, so each bin averages its sample x's."""
    from mmcv.ops import roi_align
    feat = torch.arange(4.).repeat(4, 1)[None, None]  # (1, 1, 4, 4), f = x
    rois = torch.tensor([[0., 0.5, 0.5, 2.5, 2.5]])  # aligned: continuous [0, 2] x [0, 2]
    out = roi_align(feat, rois, (2, 2), 1., 2, 'avg', True)  # spatial scale, ratio, mode, aligned
    # bins [0, 1] and [1, 2]; samples at 0.25/0.75 and 1.25/1.75
    assert torch.allclose(out[0, 0], torch.tensor([[0.5, 1.5], [0.5, 1.5]]))


def test_multi_scale_deformable_attention_runs_on_cpu():
    from mmcv.ops import MultiScaleDeformableAttention
    attn = MultiScaleDeformableAttention(embed_dims=16, num_heads=2, num_levels=2, num_points=2,
                                         batch_first=True)
    shapes = torch.tensor([[4, 4], [2, 2]])
    start = torch.tensor([0, 16])
    value = torch.randn(1, 20, 16)
    query = torch.randn(1, 5, 16)
    ref = torch.rand(1, 5, 2, 2)
    out = attn(query, value=value, reference_points=ref, spatial_shapes=shapes,
               level_start_index=start)
    assert out.shape == (1, 5, 16) and torch.isfinite(out).all()


@pytest.mark.parametrize('lib', ['mmdet', 'mmseg', 'mmaction', 'mmpretrain'])
def test_eva_mm_modules_resolve_from_other_scopes(lib):
    import importlib
    from mmengine.registry import DefaultScope
    registry = importlib.import_module(f'{lib}.registry')
    arch = dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)
    with DefaultScope.overwrite_default_scope(lib):
        model = registry.MODELS.build(dict(type='eva_mm.EVAViT', arch=arch, img_size=32,
                                           patch_size=16))
        ctor = registry.OPTIM_WRAPPER_CONSTRUCTORS.get('eva_mm.LayerDecayOptimWrapperConstructor')
    from eva_mm.models import EVAViT
    assert type(model) is EVAViT
    assert ctor.__name__ == 'LayerDecayOptimWrapperConstructor'
