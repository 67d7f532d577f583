"""Every configs/pretrain config parses and builds (tiny arch override, real forward), the
paper configs carry SPEC §2/§3 values, and the paper-scale models have the paper's size
(built on the meta device: no memory, exact parameter counts)."""
import copy
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

import eva_mm  # noqa: F401
from eva_mm.models import EVAViT
from eva_mm.registry import MODELS, TRANSFORMS

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', 'pretrain', '*.py')))
TINY = dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)
KINDS = {
    'eva_mim_clip-l.py': 'mim', 'eva_mim_clip-l_deepspeed.py': 'mim',
    'eva-tiny_mim_shapes.py': 'mim', 'eva-tiny_mim_shapes_deepspeed.py': 'mim',
    'eva_clip_g.py': 'clip', 'eva_clip_g_deepspeed.py': 'clip', 'eva-tiny_clip_shapes.py': 'clip',
}


def test_every_config_is_covered():
    assert {osp.basename(c) for c in CONFIGS} == set(KINDS)


def _tiny(cfg):
    m = copy.deepcopy(cfg.model)
    if m.type == 'eva_mm.EVAMIM':
        m.backbone.update(arch=TINY, img_size=32, patch_size=8, with_cp=False)
        m.teacher = dict(type='eva_mm.OpenCLIPVisionTeacher', model_cfg=dict(
            embed_dim=16, vision_cfg=dict(image_size=32, patch_size=8, width=32, layers=1,
                                          head_width=16)))
    else:
        m.vision.update(arch=TINY, img_size=32, patch_size=8, init_cfg=None)
        m.update(embed_dim=16, text_checkpoint=None,
                 text_cfg=dict(context_length=8, vocab_size=49408, width=32, heads=2, layers=1))
    return m


@pytest.mark.parametrize('path', CONFIGS, ids=[osp.basename(c) for c in CONFIGS])
def test_config_parses_and_builds(path):
    from mmengine.structures import BaseDataElement
    cfg = Config.fromfile(path)
    init_default_scope(cfg.default_scope)
    assert cfg.default_scope == 'mmpretrain' and 'eva_mm' in cfg.custom_imports['imports']
    model = MODELS.build(_tiny(cfg))
    x = torch.randn(2, 3, 32, 32)
    if KINDS[osp.basename(path)] == 'mim':
        assert cfg.model.type == 'eva_mm.EVAMIM'
        mask = torch.zeros(2, 16, dtype=torch.bool)
        mask[:, :5] = True
        ds = [BaseDataElement(mask=m) for m in mask]
        out = model(x, ds, mode='loss')
        # every pipeline transform builds, including the mask generator
        pipeline = cfg.train_dataloader.dataset.pipeline
        assert any(t['type'] == 'eva_mm.BlockwiseMaskGenerator' for t in pipeline)
    else:
        assert cfg.model.type == 'eva_mm.EVACLIP'
        ids = model.tokenize(['a', 'b'])
        out = model(x, [BaseDataElement(text=t) for t in ids], mode='loss')
        assert any(h['type'] == 'eva_mm.ZeroShotClassifierHook' for h in cfg.custom_hooks)
        assert cfg.val_evaluator.type == 'eva_mm.ZeroShotAccuracy'
        pipeline = cfg.train_dataloader.dataset.pipeline
    assert torch.isfinite(out['loss'])
    for t in pipeline:
        TRANSFORMS.build(t)
    if 'deepspeed' in path:
        assert cfg.runner_type == 'FlexibleRunner'
        assert cfg.strategy.type == 'DeepSpeedStrategy'
        assert cfg.strategy.zero_optimization.stage == 1
        assert cfg.optim_wrapper.type == 'DeepSpeedOptimWrapper'
        assert (cfg.model.backbone if 'mim' in path else cfg.model.vision).with_cp
        if 'tiny' in path:
            assert cfg.strategy.bf16.enabled  # CPU: DeepSpeed has no fp16 there
        else:
            fp16 = cfg.strategy.fp16
            assert fp16.enabled and fp16.loss_scale == 0  # dynamic loss scaling


def test_mim_paper_values():
    cfg = Config.fromfile(osp.join(ROOT, 'configs/pretrain/eva_mim_clip-l.py'))
    bb = cfg.model.backbone
    arch = EVAViT.parse_arch(bb.arch)
    assert (arch['embed_dims'], arch['num_layers'], arch['num_heads'],
            arch['feedforward_channels']) == (1408, 40, 16, 6144)
    assert bb.patch_size == 14 and bb.img_size == 224 and bb.drop_path_rate == 0.1
    assert cfg.model.teacher.model_name == 'ViT-L-14-quickgelu'
    opt = cfg.optim_wrapper
    assert opt.type == 'AmpOptimWrapper' and opt.loss_scale == 'dynamic' and opt.dtype == 'float16'
    assert opt.optimizer.type == 'AdamW' and opt.optimizer.lr == 1e-3
    assert tuple(opt.optimizer.betas) == (0.9, 0.98) and opt.optimizer.weight_decay == 0.05
    assert cfg.train_cfg.max_epochs == 150
    assert any(s.type == 'CosineAnnealingLR' for s in cfg.param_scheduler)
    # 32 per GPU x 128 GPUs = 4096
    assert cfg.train_dataloader.batch_size * 128 == 4096
    assert cfg.auto_scale_lr.base_batch_size == 4096
    pipe = {t['type']: t for t in cfg.train_dataloader.dataset.pipeline}
    assert tuple(pipe['RandomResizedCrop']['crop_ratio_range']) == (0.2, 1.0)
    assert pipe['RandomResizedCrop']['scale'] == 224
    assert not any('Color' in t for t in pipe)  # no colour jitter
    m = pipe['eva_mm.BlockwiseMaskGenerator']
    assert (m['input_size'], m['num_masking_patches'], m['min_num_patches'], m['min_aspect']) == \
        (16, 105, 16, 0.3)


def test_clip_paper_values():
    cfg = Config.fromfile(osp.join(ROOT, 'configs/pretrain/eva_clip_g.py'))
    v = cfg.model.vision
    assert EVAViT.parse_arch(v.arch)['embed_dims'] == 1408 and v.patch_size == 14
    assert v.init_cfg.type == 'Pretrained'  # from the EVA MIM checkpoint
    assert cfg.model.text_cfg == dict(context_length=77, vocab_size=49408, width=768, heads=12,
                                      layers=12)
    assert cfg.model.quick_gelu
    samples = cfg.train_cfg.max_iters * cfg.train_dataloader.batch_size * 256
    assert abs(samples - 11e9) / 11e9 < 1e-3  # 11B samples seen
    assert cfg.train_dataloader.batch_size * 256 == 40960  # ~41k
    assert cfg.optim_wrapper.loss_scale == 'dynamic'
    # official EVA-01/clip/model_configs/EVA_CLIP_g_14.json: vision drop path 0.4 (was 0.0)
    assert v.drop_path_rate == 0.4
    ds = Config.fromfile(osp.join(ROOT, 'configs/pretrain/eva_clip_g_deepspeed.py'))
    assert ds.model.vision.drop_path_rate == 0.4
    assert ds.optim_wrapper.optimizer == cfg.optim_wrapper.optimizer  # one place
    sched = open(osp.join(ROOT, 'configs/_base_/schedules/pretrain_clip_11b-samples.py')).read()
    assert 'UNPUBLISHED' in sched  # the optimiser values are marked as placeholders
    assert cfg.auto_scale_lr == dict(enable=False, base_batch_size=40960)


def test_mim_deepspeed_official_values():
    """EVA-01/eva/utils.py create_ds_config: fp16 dynamic loss scale (loss_scale 0), initial
    scale 2^16, loss-scale window 500 (was 1000), hysteresis 2, min scale 1; ZeRO-1; clip 3."""
    cfg = Config.fromfile(osp.join(ROOT, 'configs/pretrain/eva_mim_clip-l_deepspeed.py'))
    fp16 = cfg.strategy.fp16
    assert (fp16.enabled, fp16.loss_scale, fp16.initial_scale_power, fp16.loss_scale_window,
            fp16.hysteresis, fp16.min_loss_scale) == (True, 0, 16, 500, 2, 1)
    assert cfg.strategy.zero_optimization.stage == 1 and cfg.strategy.gradient_clipping == 3.0
    for name in ('eva_mim_clip-l.py', 'eva_mim_clip-l_deepspeed.py', 'eva_clip_g.py',
                 'eva_clip_g_deepspeed.py'):
        header = open(osp.join(ROOT, 'configs/pretrain', name)).read().split('\n_base_')[0]
        assert 'EVA-01/' in header and 'Launch: total batch' in header, name


def _count(model, prefix=''):
    return sum(p.numel() for n, p in model.named_parameters() if n.startswith(prefix))


def test_paper_models_have_paper_size():
    """EVA-g student 1011M (SPEC §1) + CLIP-L/14 vision teacher; EVA-CLIP g 1.1B."""
    cfg = Config.fromfile(osp.join(ROOT, 'configs/pretrain/eva_mim_clip-l.py'))
    with torch.device('meta'):
        mim = MODELS.build(cfg.model)
    backbone = _count(mim, 'backbone.') - mim.backbone.mask_token.numel()
    assert round(backbone / 1e6) == 1011, backbone
    assert 300e6 < _count(mim, 'teacher.') < 310e6  # OpenAI CLIP-L/14 vision tower (~304M)
    assert mim.teacher.embed_dim == 768 and mim.teacher.grid_size == (16, 16)
    assert mim.lm_head.out_features == 768
    assert all(not p.requires_grad for p in mim.teacher.parameters())

    cfg = Config.fromfile(osp.join(ROOT, 'configs/pretrain/eva_clip_g.py'))
    m = copy.deepcopy(cfg.model)
    m.vision.init_cfg = None
    with torch.device('meta'):
        clip = MODELS.build(m)
    total = _count(clip)
    text = _count(clip, 'text.')
    assert 1.10e9 < total < 1.15e9, total  # "1.1B"
    assert 120e6 < text < 126e6, text  # OpenAI CLIP-L text encoder (124M)
