"""Every configs/seg config parses and builds (tiny arch override); paper values hold."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', 'seg', '*.py')))
PAPER = {'eva_mask2former_ade20k.py': 150, 'eva_mask2former_ade20k_ms.py': 150,
         'eva_mask2former_cocostuff.py': 171, 'eva_mask2former_cocostuff_ms.py': 171}
TINY_VIT = dict(embed_dims=32, num_layers=4, num_heads=2, feedforward_channels=64)


pytestmark = pytest.mark.usefixtures('one_thread')  # conftest.py


def seg_model_cfg(cfg: Config) -> dict:
    """The segmentor config (inside the TTA wrapper for the multi-scale variants)."""
    return cfg.model.module if cfg.model.type == 'SegTTAModel' else cfg.model


def shrink(model: dict) -> None:
    """Tiny arch override: a 4-block 32-wide ViT, a 32-wide head; keeps everything else."""
    bb = model.backbone
    bb.vit.arch = TINY_VIT
    bb.vit.img_size = 32
    bb.vit.pop('init_cfg', None)
    bb.vit.with_cp = False
    bb.update(conv_inplane=8, deform_num_heads=2, with_cp=False, norm_cfg=dict(type='BN'))
    h = model.decode_head
    w = 32
    h.update(in_channels=[32] * 4, feat_channels=w, out_channels=w, num_queries=10)
    h.pixel_decoder.norm_cfg = dict(type='GN', num_groups=8)
    h.pixel_decoder.encoder.num_layers = 1
    h.pixel_decoder.encoder.layer_cfg.self_attn_cfg.update(embed_dims=w, num_heads=4)
    h.pixel_decoder.encoder.layer_cfg.ffn_cfg.update(embed_dims=w, feedforward_channels=2 * w)
    h.pixel_decoder.positional_encoding.num_feats = w // 2
    h.positional_encoding.num_feats = w // 2
    lc = h.transformer_decoder.layer_cfg
    lc.self_attn_cfg.update(embed_dims=w, num_heads=4)
    lc.cross_attn_cfg.update(embed_dims=w, num_heads=4)
    lc.ffn_cfg.update(embed_dims=w, feedforward_channels=2 * w)


def test_all_configs_listed():
    names = {osp.basename(c) for c in CONFIGS}
    assert set(PAPER) <= names and 'eva-tiny_mask2former_shapes.py' in names


@pytest.mark.parametrize('path', CONFIGS, ids=[osp.basename(c) for c in CONFIGS])
def test_config_builds(path):
    from mmseg.registry import MODELS
    cfg = Config.fromfile(path)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    assert 'eva_mm' in cfg.custom_imports['imports']
    m = seg_model_cfg(cfg)
    name = osp.basename(path)
    if name in PAPER:
        n = PAPER[name]
        bb, head = m.backbone, m.decode_head
        # SPEC §3: weakened Mask2Former, EVA-g, 896 crops, layer decay, official init
        assert bb.type == 'eva_mm.EVAAdapter' and bb.vit.arch == 'eva-g'
        assert bb.vit.use_rel_pos is False
        if name.startswith('eva_mask2former_ade20k'):  # every weight from the COCO-Stuff model
            assert bb.vit.init_cfg is None and cfg.load_from
            assert list(cfg.pretrained_weights) == ['load_from']
        else:
            assert bb.vit.init_cfg['type'] == 'Pretrained'
        assert head.type == 'eva_mm.Mask2FormerHead'
        assert head.transformer_decoder.num_layers == 8
        assert head.feat_channels == 1024 and head.out_channels == 1024
        assert 0.55 <= head.feat_channels / 1408 <= 0.75
        assert head.num_classes == n and len(head.loss_cls.class_weight) == n + 1
        assert tuple(m.data_preprocessor.size) == (896, 896)
        assert cfg.crop_size == (896, 896)
        crops = [t for t in cfg.train_dataloader.dataset.pipeline if t.type == 'RandomCrop']
        assert crops and tuple(crops[0].crop_size) == (896, 896)
        assert tuple(m.test_cfg.crop_size) == (896, 896)
        assert cfg.optim_wrapper.constructor == 'eva_mm.LayerDecayOptimWrapperConstructor'
        assert 0 < cfg.optim_wrapper.paramwise_cfg.layer_decay_rate < 1
        assert 'tta_pipeline' in cfg and 'tta_model' in cfg
        checks = [t for t in cfg.train_dataloader.dataset.pipeline
                  if t.type == 'eva_mm.CheckSegLabels']
        assert checks and checks[0].num_classes == n
        if name.endswith('_ms.py'):
            test_pipe = cfg.test_dataloader.dataset.pipeline
            tta = [t for t in test_pipe if t.type == 'TestTimeAug'][0]
            assert len(tta.transforms[0]) == 7  # scales
            flips = [g for g in tta.transforms if g[0].type == 'RandomFlip']
            assert len(flips) == 1 and {t.prob for t in flips[0]} == {0., 1.}  # flip
    shrink(m)
    model = MODELS.build(m)
    model.init_weights()
    from eva_mm.seg import EVAAdapter
    assert isinstance(model.backbone, EVAAdapter)
    assert model.decode_head.num_classes == (PAPER.get(name) or 5)
    if name in PAPER:
        assert model.decode_head.num_transformer_decoder_layers == 8
    # a forward pass at an odd size gives per-class logits at the input size
    model.eval()
    with torch.no_grad():
        feats = model.extract_feat(torch.randn(1, 3, 64, 96))
    assert [f.shape[-2:] for f in feats] == [(16, 24), (8, 12), (4, 6), (2, 3)]


def test_paper_backbone_size_on_meta_device():
    """The full paper backbone (EVA-g + adapter) builds; its ViT has SPEC's ~1011M params."""
    from mmseg.registry import MODELS
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'seg', 'eva_mask2former_ade20k.py'))
    init_default_scope('mmseg')
    bb = cfg.model.backbone
    bb.vit.pop('init_cfg')
    bb.norm_cfg = dict(type='BN')
    with torch.device('meta'):
        m = MODELS.build(bb)
    vit = sum(p.numel() for p in m.vit.parameters())
    total = sum(p.numel() for p in m.parameters())
    assert m.vit.num_layers == 40 and m.vit.embed_dims == 1408 and m.vit.patch_size == 16
    assert [(s.first_block, s.last_block) for s in m.stages] == \
        [(0, 9), (10, 19), (20, 29), (30, 39)]
    assert 1.00e9 < vit < 1.02e9, vit
    assert total > vit


LAYER0 = ('query_embed', 'query_feat', 'level_embed', 'cls_embed', 'mask_embed')


@pytest.mark.parametrize('name,base', [('eva_mask2former_ade20k.py', 2.5e-5),
                                       ('eva_mask2former_cocostuff.py', 1.5e-5)])
def test_layer_decay_groups_on_segmentor(name, base):
    """The paper optimizer config on a (tiny) segmentor, as the official EVA-01 seg
    constructor (EVA-01/seg/mmcv_custom/layer_decay_optimizer_constructor.py): embeddings and
    Mask2Former's query/level/class/mask embeddings at layer 0 (lr x rate^(L+1)), block i at
    lr x rate^(L-i), adapter and the rest of the head at the full lr; weight decay on every
    parameter but 1-D ones and biases (position embedding and cls token included)."""
    from mmengine.optim import build_optim_wrapper
    from mmseg.registry import MODELS
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'seg', name))
    init_default_scope('mmseg')
    shrink(cfg.model)
    model = MODELS.build(cfg.model)
    ow = build_optim_wrapper(model, cfg.optim_wrapper)
    lr_of, wd_of = {}, {}
    for g in ow.optimizer.param_groups:
        for p in g['params']:
            lr_of[id(p)], wd_of[id(p)] = g['lr'], g['weight_decay']
    rate, L = 0.95, 4
    bb, head = model.backbone, model.decode_head
    assert lr_of[id(bb.vit.blocks[0].mlp.fc1.weight)] == pytest.approx(base * rate**(L + 1 - 1))
    assert lr_of[id(bb.vit.blocks[3].mlp.fc1.weight)] == pytest.approx(base * rate**(L + 1 - 4))
    assert lr_of[id(bb.vit.patch_embed.proj.weight)] == pytest.approx(base * rate**(L + 1))
    assert lr_of[id(bb.stages[0].injector.gamma)] == pytest.approx(base)
    assert lr_of[id(bb.spm.fc1.weight)] == pytest.approx(base)
    assert lr_of[id(bb.level_embed)] == pytest.approx(base)  # the adapter's, not the head's
    layer0 = [(n, p) for n, p in head.named_parameters() if n.split('.')[0] in LAYER0]
    assert {n.split('.')[0] for n, _ in layer0} == set(LAYER0)
    for n, p in layer0:
        assert lr_of[id(p)] == pytest.approx(base * rate**(L + 1)), n
        assert wd_of[id(p)] == (0. if p.ndim == 1 else 0.05), n
    for n, p in head.named_parameters():  # the rest of the head: full lr
        if n.split('.')[0] not in LAYER0:
            assert lr_of[id(p)] == pytest.approx(base), n
    assert lr_of[id(head.pixel_decoder.level_encoding.weight)] == pytest.approx(base)
    assert wd_of[id(bb.vit.pos_embed)] == 0.05 and wd_of[id(bb.vit.cls_token)] == 0.05
    assert wd_of[id(bb.vit.blocks[0].norm1.weight)] == 0.


def test_layer0_names_must_match():
    """A layer0_names prefix that matches nothing (a renamed head) is an error, not a silent
    no-op."""
    from mmengine.optim import build_optim_wrapper
    from mmseg.registry import MODELS
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'seg', 'eva_mask2former_cocostuff.py'))
    init_default_scope('mmseg')
    shrink(cfg.model)
    model = MODELS.build(cfg.model)
    cfg.optim_wrapper.paramwise_cfg.layer0_names = ['decode_head.query_embed', 'decode_head.nope']
    with pytest.raises(ValueError, match='decode_head.nope'):
        build_optim_wrapper(model, cfg.optim_wrapper)


def test_official_run_settings():
    """RECIPES.md / EVA-01/seg/configs: ADE20K from the COCO-Stuff segmenter, 20k iterations,
    batch 64, lr 2.5e-5, layer decay 0.95, warm-up 500 (ratio 1e-6), poly power 1;
    COCO-Stuff 60k, batch 32, lr 1.5e-5, decay 0.95, warm-up 1500. The batch is per process x
    the launch the header names, and auto_scale_lr knows that total."""
    runs = {'eva_mask2former_ade20k.py': (20000, 64, 2.5e-5, 500),
            'eva_mask2former_ade20k_ms.py': (20000, 64, 2.5e-5, 500),
            'eva_mask2former_cocostuff.py': (60000, 32, 1.5e-5, 1500),
            'eva_mask2former_cocostuff_ms.py': (60000, 32, 1.5e-5, 1500)}
    for name, (iters, batch, lr, warmup) in runs.items():
        path = osp.join(ROOT, 'configs', 'seg', name)
        cfg = Config.fromfile(path)
        assert cfg.train_cfg.max_iters == iters, name
        assert cfg.optim_wrapper.optimizer.lr == lr and cfg.optim_wrapper.optimizer.type == 'AdamW'
        assert cfg.optim_wrapper.optimizer.weight_decay == 0.05
        assert cfg.optim_wrapper.paramwise_cfg.layer_decay_rate == 0.95
        assert [f'decode_head.{n}' for n in LAYER0] == \
            list(cfg.optim_wrapper.paramwise_cfg.layer0_names)
        warm, poly = cfg.param_scheduler
        assert (warm.type, warm.start_factor, warm.end) == ('LinearLR', 1e-6, warmup)
        assert (poly.type, poly.power, poly.eta_min, poly.begin, poly.end) == \
            ('PolyLR', 1.0, 0.0, warmup, iters)
        assert cfg.train_dataloader.batch_size == 1
        assert cfg.auto_scale_lr == dict(enable=False, base_batch_size=batch)
        header = open(path).read().split('\n_base_')[0]
        assert 'EVA-01/' in header, name  # cites the official file
        if not name.endswith('_ms.py'):
            assert f'CONFIG {batch}' in header, name  # the launch it assumes
        assert 'eva_mm.ConvertCheckpointHook' in [h['type'] for h in cfg.custom_hooks]
    ade = Config.fromfile(osp.join(ROOT, 'configs', 'seg', 'eva_mask2former_ade20k.py'))
    assert 'cocostuff' in ade.load_from and 'cocostuff_53p4' in ade.pretrained_weights.load_from
    ms = Config.fromfile(osp.join(ROOT, 'configs', 'seg', 'eva_mask2former_ade20k_ms.py'))
    tta = [t for t in ms.test_dataloader.dataset.pipeline if t.type == 'TestTimeAug'][0]
    steps = [[t.type for t in group] for group in tta.transforms]
    assert steps[1] == ['ResizeToMultiple'] and steps[3] == ['eva_mm.PadShortSide']
    assert tta.transforms[3][0].size == 896 and tta.transforms[3][0].pad_val == 0
    assert 'short_side_padding' in tta.transforms[-1][0].meta_keys
    assert ms.model.module.type == 'eva_mm.EncoderDecoder'
    for name in ('eva_mask2former_ade20k.py', 'eva_mask2former_cocostuff.py'):
        cfg = Config.fromfile(osp.join(ROOT, 'configs', 'seg', name))
        assert [t.type for t in cfg.test_dataloader.dataset.pipeline][:3] == \
            ['LoadImageFromFile', 'Resize', 'ResizeToMultiple']
