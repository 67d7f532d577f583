"""Every configs/cls config parses, builds its model (tiny arch override) and its layer-decay
optimizer, runs a forward pass at its own input size, and carries the paper's values."""
import copy
import glob
import os.path as osp

import pytest
import torch

import eva_mm  # noqa: F401
from eva_mm.models import EVAViT
from mmengine.config import Config
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CFG_DIR = osp.join(ROOT, 'configs', 'cls')
CONFIGS = sorted(glob.glob(osp.join(CFG_DIR, '*.py')))
TINY = dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)

PAPER = 'eva-g'
# config -> (img_size, num_classes, epochs, layer decay, lr, test evaluator type)
EXPECT = {
    'eva_in21k_224.py': (224, 21841, 60, 0.85, 1e-4, None),
    'eva_in1k_336.py': (336, 1000, 10, 0.95, 3e-5, 'Accuracy'),
    'eva_in1k_560.py': (560, 1000, 10, 0.95, 3e-5, 'Accuracy'),
    'eva_in1k_336_test-inv2.py': (336, 1000, 10, 0.95, 3e-5, 'Accuracy'),
    'eva_in1k_336_test-real.py': (336, 1000, 10, 0.95, 3e-5, 'eva_mm.ReaLAccuracy'),
    'eva_in1k_336_test-ina.py': (336, 1000, 10, 0.95, 3e-5, 'eva_mm.SubsetAccuracy'),
    'eva_in1k_336_test-inr.py': (336, 1000, 10, 0.95, 3e-5, 'eva_mm.SubsetAccuracy'),
    'eva_in1k_336_test-insketch.py': (336, 1000, 10, 0.95, 3e-5, 'Accuracy'),
    'eva-tiny_shapes.py': (32, 4, 10, 0.9, 2e-3, 'Accuracy'),
}


def test_every_config_has_expectations():
    names = {osp.basename(c) for c in CONFIGS}
    assert names == set(EXPECT), f'configs without expectations: {names ^ set(EXPECT)}'


def _pipeline_sizes(pipeline):
    sizes = []
    for t in pipeline:
        for k in ('scale', 'crop_size'):
            if t['type'] in ('RandomResizedCrop', 'ResizeEdge', 'CenterCrop') and k in t:
                sizes.append(t[k])
    return sizes


@pytest.mark.parametrize('path', CONFIGS, ids=[osp.basename(c) for c in CONFIGS])
def test_cls_config_builds_with_paper_values(path):
    name = osp.basename(path)
    img, ncls, epochs, ld, lr, evaluator = EXPECT[name]
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'mmpretrain'
    assert 'eva_mm' in cfg.custom_imports['imports']
    bb = cfg.model.backbone
    assert bb.type == 'eva_mm.EVAViT' and cfg.model.type == 'ImageClassifier'
    assert cfg.model.head.type == 'LinearClsHead'
    assert bb.img_size == img
    assert cfg.model.head.num_classes == ncls == cfg.model.data_preprocessor.num_classes
    assert cfg.train_cfg.max_epochs == epochs
    assert cfg.optim_wrapper.constructor == 'eva_mm.LayerDecayOptimWrapperConstructor'
    assert cfg.optim_wrapper.paramwise_cfg.layer_decay_rate == ld
    assert cfg.optim_wrapper.optimizer.lr == pytest.approx(lr)
    if name != 'eva-tiny_shapes.py':
        # the paper's model: EVA-g, patch 14, mean-pooled tokens -> fc_norm -> linear head
        arch = EVAViT.parse_arch(bb.arch)
        assert (arch['embed_dims'], arch['num_layers'], arch['num_heads'],
                arch['feedforward_channels']) == (1408, 40, 16, 6144)
        assert bb.patch_size == 14 and bb.out_type == 'avg_featmap' and not bb.final_norm
        assert cfg.model.head.in_channels == 1408
        assert bb.drop_path_rate == 0.4 and bb.with_cp
        assert bb.init_cfg.type == 'Pretrained'
        sizes = _pipeline_sizes(cfg.train_dataloader.dataset.pipeline)
        assert sizes and all(s == img for s in sizes)
    if evaluator is None:
        assert cfg.val_dataloader is None and cfg.val_cfg is None
    else:
        ev = cfg.test_evaluator
        assert ev.type == evaluator
        sizes = _pipeline_sizes(cfg.test_dataloader.dataset.pipeline)
        if name != 'eva-tiny_shapes.py':  # (the generated images already are 32x32)
            assert sizes and all(s == img for s in sizes)

    # build with a tiny arch at the config's own input size
    init_default_scope('mmpretrain')
    from mmpretrain.registry import MODELS
    mcfg = copy.deepcopy(cfg.model)
    mcfg.backbone.update(arch=TINY, init_cfg=None)
    mcfg.head.in_channels = TINY['embed_dims']
    model = MODELS.build(mcfg)
    assert isinstance(model.backbone, EVAViT)
    assert model.head.fc.out_features == ncls
    model.eval()
    with torch.no_grad():
        logits = model(torch.rand(1, 3, img, img) * 255, mode='tensor')
    assert logits.shape == (1, ncls)

    # the layer-decay optimizer: block i gets lr * ld ** (L + 1 - (i + 1)), the head the full lr
    ow = build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))
    L = TINY['num_layers']
    by_id = {g['layer_id']: g['lr'] for g in ow.optimizer.param_groups}
    assert by_id[L + 1] == pytest.approx(lr)
    assert by_id[1] == pytest.approx(lr * ld**L)
    assert by_id[0] == pytest.approx(lr * ld**(L + 1))


def test_in1k_recipe_details():
    cfg = Config.fromfile(osp.join(CFG_DIR, 'eva_in1k_336.py'))
    assert cfg.model.head.loss.label_smooth_val == 0.3  # [EVA] smoothing 0.3
    assert 'train_cfg' not in cfg.model or not cfg.model.train_cfg  # no Mixup/CutMix
    assert [h.type for h in cfg.custom_hooks] == ['eva_mm.RNGStateHook',
                                                  'eva_mm.CheckPretrainedWeightsHook', 'EMAHook']
    assert cfg.custom_hooks[2].momentum == pytest.approx(1e-4)
    assert cfg.model.backbone.init_cfg.checkpoint.endswith('eva_21k_224px_psz14.pt')
    assert cfg.param_scheduler[0].end == 2  # 2 warm-up epochs
    cfg21 = Config.fromfile(osp.join(CFG_DIR, 'eva_in21k_224.py'))
    assert [a.type for a in cfg21.model.train_cfg.augments] == ['CutMix']
    assert cfg21.optim_wrapper.optimizer.betas == (0.9, 0.98)
    assert cfg21.param_scheduler[0].end == 15  # 15 warm-up epochs
    assert cfg21.model.backbone.init_cfg.checkpoint.endswith('eva_psz14.pt')
