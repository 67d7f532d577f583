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
    'eva_in1k_560.py': (560, 1000, 15, 0.95, 3e-5, 'Accuracy'),  # official: 15 (was 10)
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
        assert bb.freeze_patch_embed is True  # official stop_grad_conv1=True in every fine-tune
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
                                                  'eva_mm.CheckPretrainedWeightsHook',
                                                  'eva_mm.ConvertCheckpointHook', 'EMAHook']
    assert cfg.custom_hooks[3].momentum == pytest.approx(1e-4)
    assert cfg.model.backbone.init_cfg.checkpoint.endswith('eva_21k_224px_psz14.pt')
    assert cfg.param_scheduler[0].end == 2  # 2 warm-up epochs
    cfg21 = Config.fromfile(osp.join(CFG_DIR, 'eva_in21k_224.py'))
    assert [a.type for a in cfg21.model.train_cfg.augments] == ['CutMix']
    assert cfg21.optim_wrapper.optimizer.betas == (0.9, 0.98)
    assert cfg21.param_scheduler[0].end == 15  # 15 warm-up epochs
    assert cfg21.model.backbone.init_cfg.checkpoint.endswith('eva_psz14.pt')


def test_in1k_560_official_schedule():
    """EVA-01/eva/README.md (ep=10 # or 15) and EVA-01/logs/cls/ft_1k_cls_sz560_89p7.txt
    (epochs 0..14): 15 epochs, 2 warm-up, cosine to 0 over the remaining 13; batch 512."""
    cfg = Config.fromfile(osp.join(CFG_DIR, 'eva_in1k_560.py'))
    warm, cos = cfg.param_scheduler
    assert cfg.train_cfg.max_epochs == 15 and (warm.begin, warm.end) == (0, 2)
    assert (cos.type, cos.begin, cos.end, cos.T_max, cos.eta_min) == \
        ('CosineAnnealingLR', 2, 15, 13, 0.)
    assert cfg.train_dataloader.batch_size * 32 == cfg.auto_scale_lr.base_batch_size == 512
    for name in ('eva_in21k_224.py', 'eva_in1k_336.py', 'eva_in1k_560.py'):
        header = open(osp.join(CFG_DIR, name)).read().split('\n_base_')[0]
        assert 'EVA-01/eva/' in header and 'EVA-01/logs/cls/' in header, name
        assert 'tools/dist_train.sh CONFIG' in header, name  # the launch it assumes


def test_patch_embed_gets_no_gradient_as_official_stop_grad_conv1():
    """freeze_patch_embed=True (the paper fine-tunes) = the official ``x =
    patch_embed(x).detach()``: no gradient reaches the patch embedding, every other gradient
    is the same, and the frozen weights are in no optimizer group (so no weight decay)."""
    cfg = Config.fromfile(osp.join(CFG_DIR, 'eva_in1k_336.py'))
    init_default_scope('mmpretrain')
    from mmpretrain.registry import MODELS
    mcfg = copy.deepcopy(cfg.model)
    mcfg.backbone.update(arch=TINY, init_cfg=None, img_size=28, with_cp=False,
                         drop_path_rate=0.)
    mcfg.head.in_channels = TINY['embed_dims']
    torch.manual_seed(0)
    frozen = MODELS.build(mcfg)
    mcfg.backbone.freeze_patch_embed = False
    official = MODELS.build(mcfg)
    official.load_state_dict(frozen.state_dict())
    official.backbone.patch_embed.register_forward_hook(  # (tokens, grid): detach the tokens
        lambda m, i, out: (out[0].detach(), *out[1:]))
    frozen.train()
    official.train()
    x = torch.rand(2, 3, 28, 28)
    for m in (frozen, official):
        m.head.fc.weight.data.normal_(0, 0.1)  # the same after the copy below
    official.head.fc.weight.data.copy_(frozen.head.fc.weight.data)
    for m in (frozen, official):
        feats = m.extract_feat(x)
        m.head(feats).logsumexp(-1).sum().backward()
    pe = dict(frozen.backbone.patch_embed.named_parameters())
    assert pe and all(p.grad is None and not p.requires_grad for p in pe.values())
    assert all(p.grad is None for p in official.backbone.patch_embed.parameters())
    grads = {n: p.grad for n, p in official.named_parameters() if p.grad is not None}
    for n, p in frozen.named_parameters():
        if 'patch_embed' in n:
            continue
        assert p.grad is not None, n
        torch.testing.assert_close(p.grad, grads[n], msg=n)
    ow = build_optim_wrapper(frozen, copy.deepcopy(cfg.optim_wrapper))
    in_opt = {id(p) for g in ow.optimizer.param_groups for p in g['params']}
    assert not any(id(p) in in_opt for p in pe.values())
    # and it stays frozen through train()/eval() switches
    frozen.eval()
    frozen.train()
    assert not any(p.requires_grad for p in pe.values())
