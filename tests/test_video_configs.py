"""configs/video/*.py: every config parses and builds (tiny arch override) and runs a tiny
forward; the Kinetics configs say the paper's values (SPEC §3) and build the full EVA-g."""
import copy
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope

import eva_mm  # noqa: F401
from mmaction.registry import MODELS  # noqa: E402  (after eva_mm: compat fix for mmaction)

ROOT = osp.join(osp.dirname(__file__), '..')
CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', 'video', '*.py')))
KINETICS = {'eva_k722.py': 722, 'eva_k400.py': 400, 'eva_k600.py': 600, 'eva_k700.py': 700}
TINY = dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)


def test_all_expected_configs_present():
    names = {osp.basename(c) for c in CONFIGS}
    assert set(KINETICS) | {'eva-tiny_moving-shapes.py'} <= names


def _tiny(cfg: Config) -> dict:
    m = copy.deepcopy(cfg.model)
    m.backbone.arch = dict(TINY)
    m.backbone.pop('init_cfg', None)
    m.backbone.with_cp = False
    m.cls_head.in_channels = TINY['embed_dims']
    return m


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_builds_tiny_and_runs(path):
    cfg = Config.fromfile(path)
    init_default_scope(cfg.default_scope)
    model = MODELS.build(_tiny(cfg)).eval()
    assert type(model.backbone).__name__ == 'EVAViT3D'
    for split in ('train', 'val', 'test'):  # every pipeline step resolves in the registries
        Compose(cfg[f'{split}_dataloader'].dataset.pipeline)
    T = cfg.model.backbone.num_frames
    size = 2 * cfg.model.backbone.patch_size
    x = torch.randn(1, 2, 3, T, size, size)  # (batch, views, C, T, H, W) as Recognizer3D gets
    with torch.no_grad():
        scores = model(x, mode='tensor', stage='head')
    assert scores.shape == (2, cfg.model.cls_head.num_classes)


@pytest.mark.parametrize('name', sorted(KINETICS))
def test_kinetics_configs_say_paper_values(name):
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'video', name))
    bb, head = cfg.model.backbone, cfg.model.cls_head
    assert cfg.model.type == 'Recognizer3D'
    assert bb.type == 'eva_mm.EVAViT3D' and bb.arch == 'eva-g' and bb.patch_size == 14
    assert bb.img_size == 224 and bb.tubelet_size == 1 and bb.with_cp
    assert head.num_classes == KINETICS[name] and head.in_channels == 1408
    assert head.average_clips == 'prob'
    # the official model: mean-pooled patch tokens -> fc_norm -> linear, no final norm, no
    # dropout before the head
    assert bb.out_type == 'avg_featmap' and bb.final_norm is False
    assert head.type == 'eva_mm.EVAVideoHead' and head.dropout_ratio == 0
    # the official optimiser / schedule / pipelines: tests/test_video_recipes.py
    ow = cfg.optim_wrapper
    assert ow.type == 'AmpOptimWrapper' and ow.loss_scale == 'dynamic'
    assert ow.constructor == 'eva_mm.LayerDecayOptimWrapperConstructor'
    assert ow.optimizer.type == 'AdamW'
    train = {t['type']: t for t in cfg.train_dataloader.dataset.pipeline}
    test = {t['type']: t for t in cfg.test_dataloader.dataset.pipeline}
    frames = 8 if name == 'eva_k722.py' else 16
    assert bb.num_frames == frames == train['eva_mm.SampleSegments']['num_segments']
    assert test['eva_mm.SampleSegments']['num_segments'] == frames
    assert test['eva_mm.SampleSegments']['num_views'] == 4
    assert test['ThreeCrop']['crop_size'] == 224
    if name == 'eva_k722.py':
        assert cfg.train_cfg.max_epochs == 40
        assert 'k722' in cfg.train_dataloader.dataset.ann_file
        assert bb.init_cfg.checkpoint.endswith('eva_psz14.pt')
        assert bb.drop_path_rate == 0.3  # official K722 yaml
    else:
        assert cfg.train_cfg.max_epochs in (1, 2)
        assert bb.drop_path_rate == 0.2  # official kinetics4/6/700_ft.yaml
        # backbone AND head from the K722 model, the head rows through the class mapping
        assert bb.init_cfg.checkpoint.endswith('eva_k722/epoch_40.pth')
        assert head.init_cfg == dict(type='Pretrained', checkpoint=bb.init_cfg.checkpoint)
        assert head.class_mapping == f'data/k722/k722_to_{name[4:-3]}_mapping.npy'
        assert set(cfg.pretrained_weights) >= {'model.backbone.init_cfg',
                                               'model.cls_head.init_cfg',
                                               'model.cls_head.class_mapping'}
        k = name[4:-3].replace('k', 'kinetics')
        for split in ('train', 'val', 'test'):
            assert k in cfg[f'{split}_dataloader'].dataset.ann_file, split


@pytest.mark.parametrize('name', sorted(KINETICS))
def test_kinetics_configs_build_full_eva_g(name):
    """The real EVA-g video model (meta device: shapes only, no 4 GB of weights)."""
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'video', name))
    init_default_scope('mmaction')
    m = copy.deepcopy(cfg.model)
    m.backbone.pop('init_cfg')
    m.data_preprocessor.pop('blending', None)  # its Beta distributions cannot live on 'meta'
    with torch.device('meta'):
        model = MODELS.build(m)
    bb = model.backbone
    assert (bb.num_layers, bb.embed_dims, len(bb.blocks)) == (40, 1408, 40)
    assert bb.blocks[0].mlp.fc1.out_features == 6144 and bb.blocks[0].attn.num_heads == 16
    # SPEC Table 3a: 1011M backbone parameters (image model: a 1 + 16x16 position table)
    n_vit = sum(p.numel() for n, p in bb.named_parameters()
                if not n.startswith(('pos_embed', 'fc_norm'))) + 257 * 1408
    assert abs(n_vit / 1e6 - 1011) < 2
    T = cfg.model.backbone.num_frames  # one joint table: K722 (1, 2049, 1408), K400 (1, 4097, 1408)
    assert bb.pos_embed.shape == (1, 1 + T * 256, 1408)
    assert bb.patch_embed.proj.weight.shape == (1408, 3, 1, 14, 14)
    assert model.cls_head.fc_cls.weight.shape == (KINETICS[name], 1408)
