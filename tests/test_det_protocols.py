"""The published evaluation protocols run through tools/test.py on data in the official COCO 2017
/ LVIS v1 layouts (tools/data/make_det_layouts.py), with only the sizes shrunk: the released
detectron2 checkpoint given as is (converted on load), COCO Soft-NMS at score threshold 0,
``--tta`` with flip, LVIS with 1203 classes and 1000 detections; plus the crashes these paths
used to hit (boxes in the padded area, degenerate boxes, a one-window-tall token grid)."""
import glob
import importlib.util
import json
import os.path as osp
import sys

import pytest
import torch
from mmdet.registry import MODELS
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

import eva_mm  # noqa: F401
from eva_mm.det.testing import official_tiny_cfg
from eva_mm.models import EVAViT

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
REF_CKPT = osp.join(osp.dirname(ROOT), 'shared', 'reference', 'eva01_det', 'official_tiny_coco.pth')
pytestmark = pytest.mark.usefixtures('unformatted_config_text')  # conftest.py


def _load_module(name: str, path: str):
    spec = importlib.util.spec_from_file_location(name, osp.join(ROOT, path))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope='module')
def layouts(tmp_path_factory):
    mod = _load_module('make_det_layouts', 'tools/data/make_det_layouts.py')
    return mod.make_layouts(str(tmp_path_factory.mktemp('det_layouts')), images=2)


def _tiny_config(name: str, root: str, ann: str, tmp_path, size: int = 320) -> str:
    cfg = official_tiny_cfg(Config.fromfile(osp.join(ROOT, 'configs', 'det', name)), size)
    cfg.test_dataloader.dataset.data_root = root
    cfg.test_dataloader.num_workers = 0
    cfg.test_dataloader.persistent_workers = False
    cfg.test_evaluator.ann_file = root + ann
    # 50 proposals per image instead of 1000 keep every code path (score threshold 0, one
    # Soft-NMS call, no top-k, 1000-detection cap) at a CPU test's cost
    model = cfg.model.get('module', cfg.model)
    model.test_cfg.rpn.update(nms_pre=50, max_per_img=50)
    cfg.visualizer.name = f'vis_{tmp_path.name}'
    path = str(tmp_path / name)
    cfg.dump(path)
    return path


def _tools_test(monkeypatch, *args: str) -> dict:
    """Run tools/test.py in this process; returns the metrics of its log."""
    test = _load_module('eva_mm_tools_test', 'tools/test.py')
    monkeypatch.setattr(sys, 'argv', ['tools/test.py', *args])
    test.main()
    work = args[args.index('--work-dir') + 1]
    scalars = sorted(glob.glob(osp.join(work, '*', '*.json')))
    assert scalars, f'no metrics written under {work}'
    return json.loads(open(scalars[-1]).read().strip().splitlines()[-1])


@pytest.mark.parametrize('name,tta', [('eva_cmrcnn_coco_1536.py', False),
                                      ('eva_cmrcnn_coco_1536_mask.py', True)])
def test_coco_protocol_runs_the_released_checkpoint(layouts, tmp_path, monkeypatch, name, tta):
    cfg = _tiny_config(name, layouts['coco'], 'annotations/instances_val2017.json', tmp_path)
    args = [cfg, REF_CKPT, '--work-dir', str(tmp_path / 'work')] + (['--tta'] if tta else [])
    metrics = _tools_test(monkeypatch, *args)
    key = 'coco/segm_mAP' if 'mask' in name else 'coco/bbox_mAP'
    assert 0 <= metrics[key] <= 1
    log = open(glob.glob(str(tmp_path / 'work' / '*' / '*.log'))[0]).read()
    assert "converted a 'detectron2' checkpoint" in log  # the official file, as released


def test_lvis_protocol_1000_detections_with_tta(layouts, tmp_path, monkeypatch):
    cfg_path = _tiny_config('eva_cmrcnn_lvis_1536.py', layouts['lvis'],
                            'annotations/lvis_v1_val.json', tmp_path)
    cfg = Config.fromfile(cfg_path)
    init_default_scope('mmdet')
    model = MODELS.build(cfg.model)
    for h in model.roi_head.bbox_head:  # a few likely classes, as a trained detector
        h.fc_cls.bias.data.fill_(-9.0)
        h.fc_cls.bias.data[:8] = -2.0
    ckpt = str(tmp_path / 'lvis_tiny.pth')
    torch.save({'state_dict': model.state_dict()}, ckpt)
    plain = _tools_test(monkeypatch, cfg_path, ckpt, '--work-dir', str(tmp_path / 'plain'))
    assert 0 <= plain['lvis/bbox_AP'] <= 1 and 'lvis/segm_APr' in plain
    tta = _tools_test(monkeypatch, cfg_path, ckpt, '--work-dir', str(tmp_path / 'tta'), '--tta')
    assert 0 <= tta['lvis/segm_AP'] <= 1


def test_lvis_detections_keep_1000_per_image(layouts, tmp_path):
    """The detector returns 1000 detections per image at the LVIS protocol, and the metric
    keeps all of them (lvis-api's default would cut to 300)."""
    from eva_mm.det import LVISMetricMaxDets
    m = LVISMetricMaxDets(ann_file=layouts['lvis'] + 'annotations/lvis_v1_val.json',
                          metric=['bbox'], max_dets=1000)
    import mmdet.evaluation.metrics.lvis_metric as lm
    seen = {}
    original = lm.LVISResults

    class Spy(original):
        def __init__(self, gt, dets, max_dets=300):
            seen['max_dets'] = max_dets
            super().__init__(gt, dets, max_dets=max_dets)

    lm.LVISResults = Spy
    try:
        m.dataset_meta = dict(classes=tuple(str(i) for i in range(1203)))
        img = m._lvis_api.get_img_ids()[0]
        boxes = torch.rand(1000, 4) * 100
        boxes[:, 2:] += boxes[:, :2] + 1
        m.process({}, [dict(img_id=img, ori_shape=(240, 320), pred_instances=dict(
            bboxes=boxes, scores=torch.rand(1000), labels=torch.randint(0, 1203, (1000, ))))])
        m.compute_metrics(m.results)
    finally:
        lm.LVISResults = original
    assert seen['max_dets'] == 1000
    assert lm.LVISResults is original


def test_predict_mask_survives_boxes_outside_the_image():
    """Boxes in the padded area / degenerate boxes (score threshold 0 keeps them) are clipped
    to the original image and empty ones dropped before the masks are pasted."""
    cfg = official_tiny_cfg(Config.fromfile(osp.join(ROOT, 'configs/det/eva_cmrcnn_coco.py')), 64)
    init_default_scope('mmdet')
    head = MODELS.build(cfg.model).roi_head.eval()
    feats = [torch.randn(1, 64, 64 // s, 64 // s) for s in (4, 8, 16, 32, 64)]
    meta = dict(img_shape=(48, 64), ori_shape=(24, 32), scale_factor=(2.0, 2.0),
                pad_shape=(64, 64), batch_input_shape=(64, 64))
    res = InstanceData(bboxes=torch.tensor([[4., 4., 30., 30.],     # fine
                                            [10., 50., 30., 60.],   # in the padded area
                                            [66., 10., 70., 20.],   # right of the image
                                            [20., 20., 20., 40.]]),  # zero width
                       scores=torch.tensor([.9, .8, .7, .6]), labels=torch.tensor([1, 2, 3, 4]))
    with torch.no_grad():
        out = head.predict_mask(tuple(feats), [meta], [res], rescale=True)[0]
    assert len(out) == 1 and out.masks.shape == (1, 24, 32)
    assert out.bboxes.tolist() == [[2., 2., 15., 15.]]


def test_window_partition_one_window_tall_grid():
    """256 x 512 input, patch 16, window 16: a 16 x 32 token grid, one window tall (used to
    fail with 'view size is not compatible')."""
    m = EVAViT(arch=dict(embed_dims=64, num_layers=2, num_heads=2, feedforward_channels=128),
               img_size=224, patch_size=16, out_type='featmap', with_cls_token=False,
               final_norm=False, window_size=16, window_block_indexes=[0], use_rel_pos=True,
               rel_pos_img_size=256)
    with torch.no_grad():
        out = m(torch.randn(1, 3, 256, 512))[0]
    assert out.shape == (1, 64, 16, 32)


def test_own_class_mask_logits_equal_the_full_head_output():
    """The chunked own-class mask logits (what keeps LVIS evaluation in memory) are exactly the
    class-specific head's full (n, K, M, M) output at each box's class."""
    cfg = official_tiny_cfg(Config.fromfile(osp.join(ROOT, 'configs/det/eva_cmrcnn_lvis.py')), 64)
    init_default_scope('mmdet')
    head = MODELS.build(cfg.model).roi_head.eval()
    assert head.mask_head[0].num_classes == 1203
    feats = tuple(torch.randn(1, 64, 128 // s, 128 // s) for s in (4, 8, 16, 32, 64))
    n = head.MASK_CHUNK * 2 + 5
    xy = torch.rand(n, 2) * 90
    rois = torch.cat([torch.zeros(n, 1), xy, xy + 4 + torch.rand(n, 2) * 30], 1)
    labels = torch.randint(0, 1203, (n, ))
    with torch.no_grad():
        ours = head._own_class_mask_logits(feats, rois, labels)
        full = head._mask_forward(0, feats, rois)['mask_preds']
    assert full.shape[1] == 1203 and ours.shape == (n, 1, 28, 28)
    torch.testing.assert_close(ours[:, 0], full[torch.arange(n), labels], atol=1e-5, rtol=0)
