"""Every det config parses and builds (tiny backbone); the paper configs say what SPEC says."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

import eva_mm  # noqa: F401
from eva_mm.det.testing import shrink_detector_cfg
from eva_mm.models import EVAViT

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DET_CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', 'det', '*.py')))
PROJECT_CONFIGS = sorted(glob.glob(osp.join(ROOT, 'projects', 'eva_mask_rcnn', '*.py')))
PAPER = {'o365': 1024, 'coco': 1280, 'lvis': 1280}


def _load(path: str) -> Config:
    return Config.fromfile(path)


def test_config_set_is_complete():
    names = {osp.basename(p) for p in DET_CONFIGS}
    for n in ('eva_cmrcnn_o365.py', 'eva_cmrcnn_coco.py', 'eva_cmrcnn_lvis.py',
              'eva_cmrcnn_coco_tta.py', 'eva_cmrcnn_lvis_tta.py', 'eva-tiny_cmrcnn_shapes.py',
              'eva-tiny_cmrcnn_shapes-lvis.py'):
        assert n in names
    assert PROJECT_CONFIGS


@pytest.mark.parametrize('path', DET_CONFIGS + PROJECT_CONFIGS, ids=osp.basename)
def test_config_builds_with_tiny_backbone(path):
    from mmdet.registry import MODELS
    cfg = _load(path)
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    model_cfg = cfg.model
    if 'eva-tiny' not in osp.basename(path):
        model_cfg = shrink_detector_cfg(model_cfg)
    model = MODELS.build(model_cfg)
    det = getattr(model, 'module', model)
    assert isinstance(det.backbone, EVAViT)
    assert type(det.neck).__name__ == 'SimpleFPN'
    # the built backbone -> neck chain runs and gives the pyramid the RPN expects
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        feats = det.neck(det.backbone(x))
    strides = det.rpn_head.prior_generator.strides
    assert len(feats) == len(strides)
    for f, (s, _) in zip(feats, strides):
        assert f.shape[-1] == 64 // s


@pytest.mark.parametrize('name', sorted(PAPER))
def test_paper_config_is_eva_g_vitdet(name):
    cfg = _load(osp.join(ROOT, 'configs', 'det', f'eva_cmrcnn_{name}.py'))
    bb = cfg.model.backbone
    assert bb.type == 'eva_mm.EVAViT' and bb.arch == 'g'
    arch = EVAViT.parse_arch(bb.arch)
    assert (arch['num_layers'], arch['embed_dims'], arch['num_heads'],
            arch['feedforward_channels']) == (40, 1408, 16, 6144)
    assert bb.patch_size == 16 and bb.window_size == 16
    assert not bb.with_cls_token and bb.out_type == 'featmap'
    glob_blocks = [i for i in range(40) if i not in bb.window_block_indexes]
    assert glob_blocks == list(range(3, 40, 4))  # 3, 7, ..., 39
    assert bb.drop_path_rate > 0
    assert cfg.model.neck.type == 'eva_mm.SimpleFPN'
    assert cfg.model.neck.backbone_channel == 1408
    assert cfg.model.type == 'CascadeRCNN' and cfg.model.roi_head.num_stages == 3
    for h in cfg.model.roi_head.bbox_head:  # ViTDet conv+fc box heads with LayerNorm
        assert h.type == 'Shared4Conv1FCBBoxHead' and h.norm_cfg.type == 'eva_mm.LN2d'
    ow = cfg.optim_wrapper
    assert ow.type == 'AmpOptimWrapper' and ow.dtype == 'float16'
    assert ow.constructor == 'eva_mm.LayerDecayOptimWrapperConstructor'
    assert ow.paramwise_cfg.layer_decay_rate == 0.9 and ow.optimizer.type == 'AdamW'
    size = PAPER[name]
    pipe = cfg.train_dataloader.dataset.get('dataset', cfg.train_dataloader.dataset).pipeline
    types = [t['type'] for t in pipe]
    rr = pipe[types.index('RandomResize')]
    assert tuple(rr.scale) == (size, size) and tuple(rr.ratio_range) == (0.1, 2.0)
    assert tuple(pipe[types.index('RandomCrop')].crop_size) == (size, size)
    assert tuple(pipe[types.index('Pad')].size) == (size, size)


def test_paper_config_specifics():
    o365 = _load(osp.join(ROOT, 'configs', 'det', 'eva_cmrcnn_o365.py'))
    assert o365.model.roi_head.bbox_head[0].num_classes == 365
    assert o365.model.roi_head.mask_head is None  # Objects365 has boxes only
    assert 'Pretrained' == o365.model.backbone.init_cfg.type
    coco = _load(osp.join(ROOT, 'configs', 'det', 'eva_cmrcnn_coco.py'))
    assert 'o365' in coco.load_from
    assert coco.model.test_cfg.rcnn.nms.type == 'soft_nms'
    assert coco.model.roi_head.mask_head.maskness_thr == 0.5
    lvis = _load(osp.join(ROOT, 'configs', 'det', 'eva_cmrcnn_lvis.py'))
    assert 'o365' in lvis.load_from
    for h in lvis.model.roi_head.bbox_head:
        assert h.num_classes == 1203 and h.loss_cls.type == 'eva_mm.FederatedLoss'
        assert h.loss_cls.num_fed_loss_classes == 50 and h.loss_cls.freq_weight_power == 0.5
    ds = lvis.train_dataloader.dataset
    assert ds.type == 'ClassBalancedDataset' and ds.oversample_thr == 1e-3
    assert lvis.val_evaluator.type == 'LVISMetric'
    for tta in ('coco', 'lvis'):
        c = _load(osp.join(ROOT, 'configs', 'det', f'eva_cmrcnn_{tta}_tta.py'))
        assert c.model.type == 'eva_mm.DetMaskTTAModel'
        assert c.model.module.backbone.arch == 'g'
        assert c.test_dataloader.dataset.pipeline[1].type == 'TestTimeAug'
