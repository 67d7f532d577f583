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
    ds = cfg.train_dataloader.dataset
    ds = ds.get('dataset', ds.get('datasets', [ds])[0])  # RFS wrapper / O365 train + val
    pipe = ds.pipeline
    types = [t['type'] for t in pipe]
    rr = pipe[types.index('RandomResize')]
    assert tuple(rr.scale) == (size, size) and tuple(rr.ratio_range) == (0.1, 2.0)
    assert tuple(pipe[types.index('RandomCrop')].crop_size) == (size, size)
    # the official detector: no uint8 pipeline pad; zero pad to size x size after normalising
    assert 'Pad' not in types
    assert cfg.model.data_preprocessor.pad_size_divisor == size
    assert cfg.model.data_preprocessor.pad_value == 0
    # rel-pos in every block, global tables for the training size, 14x14 position grid
    assert bb.use_rel_pos and bb.rel_pos_img_size == size and bb.img_size == 224
    assert bb.freeze_patch_embed and bb.norm_eps == 1e-6 and bb.rel_pos_interp == 'vitdet'
    assert cfg.model.neck.norm_cfg.eps == 1e-6
    assert cfg.model.rpn_head.type == 'eva_mm.LogitRankRPNHead'
    rh = cfg.model.roi_head
    assert rh.type == 'eva_mm.EVACascadeRoIHead' and rh.average_probs and rh.single_mask_head
    assert [h.bbox_coder.target_stds for h in rh.bbox_head] == [
        [0.1, 0.1, 0.2, 0.2], [0.05, 0.05, 0.1, 0.1], [1 / 30, 1 / 30, 1 / 15, 1 / 15]]
    assert all(h.norm_cfg.eps == 1e-6 for h in rh.bbox_head)
    test_pipe = cfg.test_dataloader.dataset.pipeline
    resize = next(t for t in test_pipe if t['type'] == 'Resize')
    assert resize.backend == 'pillow' and resize.interpolation == 'bilinear'
    assert 'Pad' not in [t['type'] for t in test_pipe]
    assert dict(type='eva_mm.ConvertCheckpointHook') in cfg.custom_hooks


def test_paper_config_specifics():
    o365 = _load(osp.join(ROOT, 'configs', 'det', 'eva_cmrcnn_o365.py'))
    assert o365.model.roi_head.bbox_head[0].num_classes == 365
    assert o365.model.roi_head.mask_head is None  # Objects365 has boxes only
    assert 'Pretrained' == o365.model.backbone.init_cfg.type
    coco = _load(osp.join(ROOT, 'configs', 'det', 'eva_cmrcnn_coco.py'))
    assert 'o365' in coco.load_from
    # the official 1280 config's test settings
    assert coco.model.test_cfg.rcnn == dict(score_thr=0.05, nms=dict(type='nms', iou_threshold=0.5),
                                            max_per_img=100, mask_thr_binary=0.5)
    assert coco.model.roi_head.mask_head.maskness_thr is None
    lvis = _load(osp.join(ROOT, 'configs', 'det', 'eva_cmrcnn_lvis.py'))
    assert 'o365' in lvis.load_from
    for h in lvis.model.roi_head.bbox_head:
        assert h.num_classes == 1203 and h.loss_cls.type == 'eva_mm.FederatedLoss'
        assert h.loss_cls.num_fed_loss_classes == 50 and h.loss_cls.freq_weight_power == 0.5
    ds = lvis.train_dataloader.dataset
    assert ds.type == 'ClassBalancedDataset' and ds.oversample_thr == 1e-3
    assert lvis.val_evaluator.type == 'LVISMetric'
    assert lvis.model.test_cfg.rcnn.score_thr == 0.02 and lvis.model.test_cfg.rcnn.max_per_img == 300
    assert lvis.model.test_cfg.rcnn.nms.type == 'nms'
    for tta in ('coco', 'lvis'):
        c = _load(osp.join(ROOT, 'configs', 'det', f'eva_cmrcnn_{tta}_tta.py'))
        assert c.model.type == 'eva_mm.DetMaskTTAModel'
        assert c.model.module.backbone.arch == 'g'
        assert c.test_dataloader.dataset.pipeline[1].type == 'TestTimeAug'


def test_1536_protocol_configs():
    """The published numbers' evaluation protocols (RECIPES.md, official EVA-01/det README)."""
    for name in ('coco_1536', 'coco_1536_mask', 'lvis_1536'):
        c = _load(osp.join(ROOT, 'configs', 'det', f'eva_cmrcnn_{name}.py'))
        bb = c.model.backbone
        assert bb.rel_pos_interp == 'beit' and bb.rel_pos_img_size == 1280  # tables from 1280
        assert c.model.data_preprocessor.pad_size_divisor == 1536
        resize = next(t for t in c.test_dataloader.dataset.pipeline if t['type'] == 'Resize')
        assert tuple(resize.scale) == (1536, 1536) and resize.backend == 'pillow'
        assert c.load_from is None
    coco = _load(osp.join(ROOT, 'configs', 'det', 'eva_cmrcnn_coco_1536.py'))
    rcnn = coco.model.test_cfg.rcnn
    assert rcnn.score_thr == 0.0 and rcnn.max_per_img == -1
    assert rcnn.nms.type == 'soft_nms' and rcnn.nms.method == 'linear'
    assert (rcnn.nms.iou_threshold, rcnn.nms.sigma, rcnn.nms.min_score) == (0.6, 0.5, 1e-3)
    assert rcnn.nms.split_thr > 10**9  # one Soft-NMS call over all classes, as the official
    assert coco.model.roi_head.mask_head.maskness_thr is None  # box AP: uncalibrated scores
    assert coco.test_evaluator.metric == ['bbox'] and coco.test_evaluator.proposal_nums == (1, 10, 100)
    mask = _load(osp.join(ROOT, 'configs', 'det', 'eva_cmrcnn_coco_1536_mask.py'))
    assert mask.model.roi_head.mask_head.maskness_thr == 0.5
    assert mask.test_evaluator.metric == ['segm']
    lvis = _load(osp.join(ROOT, 'configs', 'det', 'eva_cmrcnn_lvis_1536.py'))
    rcnn = lvis.model.test_cfg.rcnn
    assert rcnn.score_thr == 0.001 and rcnn.max_per_img == 1000 and rcnn.nms.type == 'nms'
    assert rcnn.nms.iou_threshold == 0.5
    assert lvis.model.roi_head.mask_head.maskness_thr == 0.5
    assert lvis.test_evaluator.type == 'eva_mm.LVISMetricMaxDets'
    assert lvis.test_evaluator.max_dets == 1000


# RECIPES.md "Detection": (lr, iterations, warm-up, lr steps, total batch) of the official runs
RECIPES = {
    'o365': (1e-4, 350057, 15000, [], 128),
    'coco': (2.5e-5, 45000, 500, [40000, 44999], 64),
    'lvis': (2e-4, 75001, 250, [70000, 75000], 64),
}


@pytest.mark.parametrize('name', sorted(RECIPES))
def test_paper_configs_follow_the_official_runs(name):
    cfg = _load(osp.join(ROOT, 'configs', 'det', f'eva_cmrcnn_{name}.py'))
    lr, iters, warmup, steps, batch = RECIPES[name]
    ow = cfg.optim_wrapper
    assert ow.optimizer.lr == lr and ow.optimizer.weight_decay == 0.1
    assert tuple(ow.optimizer.betas) == (0.9, 0.999)
    assert ow.paramwise_cfg == dict(layer_decay_rate=0.9, decay_all=True)
    assert cfg.train_cfg.max_iters == iters
    warm = [s for s in cfg.param_scheduler if s.type == 'LinearLR']
    assert len(warm) == 1 and warm[0].end == warmup and warm[0].start_factor == 0.001
    multi = [s for s in cfg.param_scheduler if s.type == 'MultiStepLR']
    assert (multi[0].milestones if multi else []) == steps
    assert all(s.gamma == 0.1 for s in multi)
    # the launch: 64 processes (tools/dist_train.sh CONFIG 64) x the per-process batch
    assert cfg.train_dataloader.batch_size * 64 == batch == cfg.auto_scale_lr.base_batch_size
    assert cfg.auto_scale_lr.enable is False
    m = cfg.model
    assert m.backbone.drop_path_rate == 0.6
    assert m.train_cfg.rpn_proposal.max_per_img == 1000
    assert m.rpn_head.loss_bbox.type == 'L1Loss'
    assert all(h.loss_bbox.type == 'L1Loss' for h in m.roi_head.bbox_head)
    if name == 'o365':  # trained on train + val
        ds = cfg.train_dataloader.dataset
        assert ds.type == 'ConcatDataset'
        assert [d.ann_file for d in ds.datasets] == ['annotations/zhiyuan_objv2_train.json',
                                                      'annotations/zhiyuan_objv2_val.json']


def test_weight_decay_reaches_every_detector_parameter():
    """decay_all: norms, biases and position / rel-pos tables get the weight decay too."""
    from mmengine.optim import build_optim_wrapper
    cfg = _load(osp.join(ROOT, 'configs', 'det', 'eva_cmrcnn_coco.py'))
    cfg.model = shrink_detector_cfg(cfg.model)
    from mmdet.registry import MODELS
    init_default_scope('mmdet')
    model = MODELS.build(cfg.model)
    ow = dict(cfg.optim_wrapper, type='OptimWrapper')
    ow.pop('dtype'), ow.pop('loss_scale')
    groups = build_optim_wrapper(model, ow).optimizer.param_groups
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert sum(len(g['params']) for g in groups) == len(trainable)
    assert all(g['weight_decay'] == 0.1 for g in groups)
    scales = {round(g['lr'] / 2.5e-5, 6) for g in groups}
    assert max(scales) == 1.0 and min(scales) < 0.9 ** 3  # layer decay still applies


def test_train_auto_scale_lr_flag(monkeypatch, tmp_path):
    """tools/train.py --auto-scale-lr switches mmengine's linear lr scaling on (off by default)."""
    import importlib.util
    import sys
    spec = importlib.util.spec_from_file_location('eva_mm_tools_train',
                                                  osp.join(ROOT, 'tools', 'train.py'))
    train = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train)
    seen = []

    class FakeRunner:
        @classmethod
        def from_cfg(cls, cfg):
            seen.append(cfg)
            return cls()

        def train(self):
            pass

    monkeypatch.setattr(train, 'Runner', FakeRunner)
    cfg = osp.join(ROOT, 'configs', 'det', 'eva_cmrcnn_coco.py')
    for flags in ([], ['--auto-scale-lr']):
        monkeypatch.setattr(sys, 'argv', ['train.py', cfg, '--work-dir', str(tmp_path)] + flags)
        train.main()
    assert [c.auto_scale_lr.enable for c in seen] == [False, True]
    assert seen[1].auto_scale_lr.base_batch_size == 64
