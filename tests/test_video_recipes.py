"""The video paper configs = the official EVA-01 runs (/work/shared/RECIPES.md "Video",
EVA-01/video/configs/*.yaml, utils/config.py, utils/optimizer.py, datasets/build.py,
datasets/blending.py): every value resolved from the configs, and tiny runs of each new
component (TSN segment sampling, grayscale, colour jitter, mixup/cutmix + label smoothing,
the optimiser groups and the lr schedule)."""
import copy
import math
import os.path as osp

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.optim import build_optim_wrapper
from mmengine.registry import PARAM_SCHEDULERS, init_default_scope

import eva_mm  # noqa: F401
from eva_mm.video import RandomGrayscale, SampleSegments
from mmaction.registry import MODELS  # noqa: E402  (after eva_mm: compat fix for mmaction)
from mmaction.structures import ActionDataSample  # noqa: E402

ROOT = osp.join(osp.dirname(__file__), '..')
VIDEO = osp.join(ROOT, 'configs', 'video')
# config -> (official yaml, classes, frames, epochs)
PAPER = {'eva_k722.py': ('kinetics722_intermediate_ft.yaml', 722, 8, 40),
         'eva_k400.py': ('kinetics400_ft.yaml', 400, 16, 1),
         'eva_k600.py': ('kinetics600_ft.yaml', 600, 16, 2),
         'eva_k700.py': ('kinetics700_ft.yaml', 700, 16, 2)}
TINY = dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)


pytestmark = pytest.mark.usefixtures('one_thread')  # conftest.py


def _cfg(name: str) -> Config:
    return Config.fromfile(osp.join(VIDEO, name))


@pytest.mark.parametrize('name', sorted(PAPER))
def test_paper_config_is_the_official_run(name):
    yaml, classes, frames, epochs = PAPER[name]
    cfg = _cfg(name)
    text = open(osp.join(VIDEO, name)).read()
    # header: the official file the values come from, and the launch behind the total batch
    assert 'EVA-01/video/configs/' in text and yaml in text.replace('\n# ', '')
    assert 'Launch assumed' in text or 'launch' in text
    bb, head, ow = cfg.model.backbone, cfg.model.cls_head, cfg.optim_wrapper
    assert bb.num_frames == frames and head.num_classes == classes
    assert head.dropout_ratio == 0 and head.label_smooth_eps == 0.1
    assert cfg.train_cfg.max_epochs == epochs
    opt = ow.optimizer
    assert (opt.type, opt.betas, opt.eps, opt.weight_decay) == ('AdamW', (0.9, 0.98), 1e-6, 0.05)
    assert ow.get('clip_grad') is None  # the official runs clip no gradient
    assert cfg.auto_scale_lr.enable is False
    blending = cfg.model.data_preprocessor.get('blending')
    if name == 'eva_k722.py':
        assert opt.lr == 8e-6 and ow.paramwise_cfg.layer_decay_rate == 1.0
        assert bb.drop_path_rate == 0.3
        warm, cos = cfg.param_scheduler
        assert (warm.type, warm.start_factor, warm.begin, warm.end) == ('LinearLR', 1e-8, 0, 5)
        assert (cos.type, cos.eta_min_ratio, cos.begin, cos.end, cos.T_max) == (
            'CosineAnnealingLR', 0.01, 5, 40, 35)
        assert warm.convert_to_iter_based and cos.convert_to_iter_based
        # 128 GPUs x 2 = 256, no accumulation
        assert cfg.train_dataloader.batch_size == 2 and ow.get('accumulative_counts', 1) == 1
        assert cfg.auto_scale_lr.base_batch_size == 256
        assert blending.type == 'RandomBatchAugment' and blending.probs == [0.5, 0.5]
        assert [(a.type, a.alpha, a.num_classes) for a in blending.augments] == [
            ('MixupBlending', 0.8, 722), ('CutmixBlending', 1.0, 722)]
    else:
        assert opt.lr == 1e-6 and ow.paramwise_cfg.layer_decay_rate == 0.95
        assert cfg.param_scheduler is None  # constant lr
        assert bb.drop_path_rate == 0.2 and blending is None  # no mixup / cutmix
        # 64 GPUs x 1 x 4 accumulation = 256; mmengine counts GPUs x batch_size only
        assert cfg.train_dataloader.batch_size == 1 and ow.accumulative_counts == 4
        assert cfg.auto_scale_lr.base_batch_size * ow.accumulative_counts == 256
    # pipelines (datasets/build.py)
    train = cfg.train_dataloader.dataset.pipeline
    assert [t['type'] for t in train] == [
        'eva_mm.CheckedDecordInit', 'eva_mm.SampleSegments', 'eva_mm.CheckedDecordDecode',
        'Resize', 'MultiScaleCrop', 'Resize', 'Flip', 'RandomApply', 'eva_mm.RandomGrayscale',
        'FormatShape', 'PackActionInputs']
    assert train[1] == dict(type='eva_mm.SampleSegments', num_segments=frames)
    assert train[3].scale == (-1, 256)
    msc = train[4]
    assert (msc.input_size, tuple(msc.scales), msc.random_crop, msc.max_wh_scale_gap) == (
        224, (1, 0.875, 0.75, 0.66), False, 1)
    assert train[5].scale == (224, 224) and train[5].keep_ratio is False
    assert train[6].flip_ratio == 0.5
    assert train[7].prob == 0.8 and len(train[7].transforms) == 1
    cj = train[7].transforms[0]
    assert (cj.type, cj.brightness, cj.contrast, cj.saturation, cj.hue) == (
        'eva_mm.ColorJitter', 0.4, 0.4, 0.2, 0.1)
    assert train[8].prob == 0.2
    val = cfg.val_dataloader.dataset.pipeline
    assert val[1] == dict(type='eva_mm.SampleSegments', num_segments=frames, test_mode=True)
    assert val[3].scale == (-1, 256) and val[4] == dict(type='CenterCrop', crop_size=224)
    test = cfg.test_dataloader.dataset.pipeline
    assert test[1] == dict(type='eva_mm.SampleSegments', num_segments=frames, num_views=4,
                           test_mode=True)
    assert test[3].scale == (-1, 224) and test[4] == dict(type='ThreeCrop', crop_size=224)
    assert head.average_clips == 'prob'


# -- TSN segment sampling -------------------------------------------------------------------
def _official_train(n: int, T: int, rng: np.random.RandomState) -> np.ndarray:
    """The official datasets/pipeline.py SampleFrames._get_train_clips (clip_len 1, n >= T)."""
    avg = n // T
    return np.arange(T) * avg + rng.randint(avg, size=T)


def test_sample_segments_train_is_the_official_tsn_draw():
    s = SampleSegments(8)
    for n in (8, 50, 301):
        np.random.seed(3)
        r = s(dict(total_frames=n, start_index=0))
        want = _official_train(n, 8, np.random.RandomState(3))
        assert r['frame_inds'].tolist() == want.tolist()
        assert (r['clip_len'], r['num_clips']) == (8, 1)
        avg = n // 8  # one frame from each segment
        assert all(i * avg <= f < (i + 1) * avg for i, f in enumerate(r['frame_inds']))
    draws = {tuple(s(dict(total_frames=300, start_index=0))['frame_inds']) for _ in range(5)}
    assert len(draws) > 1  # random in training
    short = s(dict(total_frames=5, start_index=0))['frame_inds']  # fewer frames than segments
    assert len(short) == 8 and short.min() >= 0 and short.max() < 5


def test_sample_segments_test_views():
    one = SampleSegments(16, test_mode=True)(dict(total_frames=48, start_index=0))
    assert one['frame_inds'].tolist() == [int((i + 0.5) * 48 / 16) for i in range(16)]
    s = SampleSegments(16, num_views=4, test_mode=True)
    np.random.seed(0)
    before = np.random.get_state()[1].copy()
    r = s(dict(total_frames=300, start_index=0))
    assert (np.random.get_state()[1] == before).all()  # the global random state is untouched
    views = r['frame_inds'].reshape(4, 16)
    assert (r['clip_len'], r['num_clips']) == (16, 4)
    avg = 300 // 16
    for v in views:  # each view: one random frame from each segment (official multiview)
        assert all(i * avg <= f < (i + 1) * avg for i, f in enumerate(v))
    assert len({tuple(v) for v in views}) == 4
    again = s(dict(total_frames=300, start_index=0))['frame_inds']
    assert again.tolist() == r['frame_inds'].tolist()  # repeatable evaluation
    with pytest.raises(ValueError, match='num_views'):
        SampleSegments(8, num_views=0)


def test_test_pipeline_gives_4_clips_x_3_crops_of_16_frames():
    cfg = _cfg('eva_k400.py')
    init_default_scope('mmaction')
    steps = cfg.test_dataloader.dataset.pipeline
    assert steps[2]['type'] == 'eva_mm.CheckedDecordDecode'
    sample, rest = Compose(steps[1:2]), Compose(steps[3:6])  # decode replaced by indexing
    frames = np.random.RandomState(0).randint(0, 255, (60, 20, 30, 3), np.uint8)
    r = sample(dict(total_frames=60, start_index=0))
    r.update(imgs=[frames[i] for i in r['frame_inds']], img_shape=(20, 30),
             original_shape=(20, 30), modality='RGB')
    r = rest(r)
    assert r['imgs'].shape == (12, 3, 16, 224, 224)  # 3 crops x 4 clips, (C, T, H, W)


# -- colour augmentations ------------------------------------------------------------------
def test_random_grayscale_is_torchvision_grayscale():
    from PIL import Image
    rng = np.random.RandomState(0)
    imgs = [rng.randint(0, 256, (9, 7, 3)).astype(np.uint8) for _ in range(3)]
    gray = RandomGrayscale(prob=1.0)(dict(imgs=list(imgs)))['imgs']
    for g, img in zip(gray, imgs):
        ref = np.asarray(Image.fromarray(img).convert('L'))  # torchvision Grayscale(3) = PIL L
        assert g.dtype == np.uint8 and g.shape == img.shape
        assert (g[..., 0] == g[..., 1]).all() and (g[..., 1] == g[..., 2]).all()
        assert np.abs(g[..., 0].astype(int) - ref.astype(int)).max() <= 1
    same = RandomGrayscale(prob=0.0)(dict(imgs=list(imgs)))['imgs']
    assert all((a == b).all() for a, b in zip(same, imgs))
    np.random.seed(0)  # one draw per clip: every frame grey, or none
    t = RandomGrayscale(prob=0.5)
    outcomes = []
    for _ in range(40):
        out = t(dict(imgs=list(imgs)))['imgs']
        grey = [bool((o[..., 0] == o[..., 2]).all()) for o in out]
        assert len(set(grey)) == 1
        outcomes.append(grey[0])
    assert 8 < sum(outcomes) < 32
    with pytest.raises(ValueError, match='prob'):
        RandomGrayscale(prob=1.5)


def test_color_jitter_official_strengths_and_hue():
    from eva_mm.video import ColorJitter
    cfg = _cfg('eva_k722.py')
    init_default_scope('mmaction')
    apply = Compose(cfg.train_dataloader.dataset.pipeline[7:8]).transforms[0]
    jitter = apply.transforms.transforms[0]
    assert type(jitter) is ColorJitter and apply.prob == 0.8
    assert jitter.brightness == (0.6, 1.4) and jitter.contrast == (0.6, 1.4)
    assert jitter.saturation == (0.8, 1.2) and jitter.hue == (-0.1, 0.1)
    # hue: a fraction of the circle (torchvision), also negative (mmaction2 overflows there)
    red = np.zeros((2, 2, 3), np.float32)
    red[..., 0] = 255
    for f, want_deg in ((0.1, 36), (-0.1, -36), (0.5, 180)):
        out = ColorJitter.adjust_hue(red.copy(), f).astype(np.uint8)
        h = int(cv2.cvtColor(out, cv2.COLOR_RGB2HSV)[0, 0, 0]) * 2  # OpenCV hue: degrees / 2
        assert (h - want_deg) % 360 == 0, (f, h)
    imgs = [np.full((4, 4, 3), 100, np.uint8) + i for i in range(2)]
    np.random.seed(1)
    outs = [apply(dict(imgs=list(imgs)))['imgs'] for _ in range(50)]
    changed = [not all((a == b).all() for a, b in zip(o, imgs)) for o in outs]
    assert 30 <= sum(changed) <= 48  # applied with probability 0.8


# -- mixup / cutmix + label smoothing --------------------------------------------------------
def _tiny_k722(num_classes: int = 5):
    cfg = _cfg('eva_k722.py')
    init_default_scope('mmaction')
    m = copy.deepcopy(cfg.model)
    m.backbone.update(arch=dict(TINY), img_size=28, with_cp=False, init_cfg=None,
                      drop_path_rate=0.0)
    m.cls_head.update(in_channels=TINY['embed_dims'], num_classes=num_classes)
    for a in m.data_preprocessor.blending.augments:
        a.num_classes = num_classes
    return MODELS.build(m)


def _batch(n: int = 4, T: int = 8, size: int = 28, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    inputs = [torch.randint(0, 256, (1, 3, T, size, size), generator=g).to(torch.uint8)
              for _ in range(n)]
    samples = [ActionDataSample().set_gt_label(torch.tensor([i % 5])) for i in range(n)]
    return dict(inputs=inputs, data_samples=samples)


@pytest.mark.parametrize('which', ['mixup', 'cutmix'])
def test_mixup_cutmix_with_label_smoothing_is_the_official_soft_target_loss(which):
    model = _tiny_k722()
    pre = model.data_preprocessor
    pre.blending.probs = [1.0, 0.0, 0.0] if which == 'mixup' else [0.0, 1.0, 0.0]
    plain = pre(_batch(), training=False)['inputs']  # normalised, not blended
    for seed in range(10):  # a draw that mixes (not an identity permutation)
        torch.manual_seed(seed)
        data = pre(_batch(), training=True)
        x, samples = data['inputs'], data['data_samples']
        y = torch.stack([s.gt_label for s in samples])
        assert y.shape == (4, 5) and torch.allclose(y.sum(1), torch.ones(4))
        if (y.max(1).values < 0.999).any():  # soft targets: a sample mixed with another
            break
    else:
        raise AssertionError(f'{which}: 10 batches, none mixed')
    changed = (x != plain)
    if which == 'mixup':
        assert changed.flatten(1).float().mean(1).max() > 0.95  # a sample blended everywhere
    else:  # cutmix: one box (the same in every frame) pasted, the rest untouched
        c = changed.any(0).any(0).any(0).any(0)  # (H, W) over batch / views / C / T
        rows, cols = c.any(1).nonzero(), c.any(0).nonzero()
        assert c.any() and not c.all()
        box = c[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
        assert box.float().mean() > 0.5
    # the head's loss = the official SoftTargetCrossEntropy on smooth-then-mixed targets
    feats, _ = model.extract_feat(x)
    scores = model.cls_head(feats)
    loss = model.cls_head.loss_by_feat(scores, samples)['loss_cls']
    eps, K = 0.1, 5
    official = (1 - eps) * y + eps / K  # on = 1 - eps + eps / K, off = eps / K, then mixed
    want = (-official * F.log_softmax(scores, -1)).sum(-1).mean()
    torch.testing.assert_close(loss, want, rtol=1e-5, atol=1e-6)


def test_tiny_k722_train_step_with_blending():
    model = _tiny_k722()
    cfg = _cfg('eva_k722.py')
    ow = copy.deepcopy(cfg.optim_wrapper)
    ow.type = 'OptimWrapper'  # fp16 AmpOptimWrapper needs CUDA
    ow.pop('loss_scale')
    optim = build_optim_wrapper(model, ow)
    before = model.cls_head.fc_cls.weight.detach().clone()
    torch.manual_seed(0)
    np.random.seed(0)
    losses = model.train_step(_batch(), optim)
    assert torch.isfinite(losses['loss_cls']) and 'top1_acc' not in losses  # soft labels
    assert not torch.equal(before, model.cls_head.fc_cls.weight)


# -- optimiser groups and lr schedule -------------------------------------------------------
@pytest.mark.parametrize('name', ['eva_k722.py', 'eva_k400.py'])
def test_optimizer_groups_follow_official_rule(name):
    """utils/optimizer.py: lr scale 0.95 ** (L + 1 - layer) with layer 0 = cls / pos / patch
    embedding, block i = i + 1, the rest (fc_norm, head) L + 1; no weight decay on 1-D
    parameters, biases, pos_embed and cls_token."""
    cfg = _cfg(name)
    init_default_scope('mmaction')
    m = copy.deepcopy(cfg.model)
    m.backbone.update(arch=dict(TINY), img_size=28, with_cp=False, init_cfg=None)
    m.cls_head.update(in_channels=32, num_classes=5, init_cfg=None, class_mapping=None)
    m.data_preprocessor.pop('blending', None)
    model = MODELS.build(m)
    ow = copy.deepcopy(cfg.optim_wrapper)
    ow.type = 'OptimWrapper'
    ow.pop('loss_scale')
    optim = build_optim_wrapper(model, ow)
    lr, wd, rate = ow.optimizer.lr, ow.optimizer.weight_decay, ow.paramwise_cfg.layer_decay_rate
    L = TINY['num_layers']
    where = {id(p): g for g in optim.optimizer.param_groups for p in g['params']}
    for n, p in model.named_parameters():
        b = n[len('backbone.'):]
        if b.split('.')[0] in ('cls_token', 'pos_embed', 'patch_embed'):
            layer = 0
        elif b.startswith('blocks.'):
            layer = int(b.split('.')[1]) + 1
        else:
            layer = L + 1
        g = where[id(p)]
        assert g['lr'] == pytest.approx(lr * rate ** (L + 1 - layer)), n
        no_wd = p.ndim == 1 or n.endswith('.bias') or b in ('pos_embed', 'cls_token')
        assert g['weight_decay'] == (0.0 if no_wd else wd), n
    assert not optim.clip_grad_kwargs  # no gradient clipping


def test_k722_lr_schedule_is_the_official_timm_cosine():
    """build_scheduler: warm-up from 0 over 5 epochs, then cosine to lr / 100, per step.
    The one difference: mmengine's LinearLR reaches the full lr at the last warm-up
    iteration (5n - 1), timm's one step later (5n); the cosine part is the same."""
    cfg = _cfg('eva_k722.py')
    iters = 3  # per epoch
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.AdamW([p], lr=cfg.optim_wrapper.optimizer.lr)
    scheds = []
    for sc in copy.deepcopy(cfg.param_scheduler):
        cls = PARAM_SCHEDULERS.get(sc.pop('type'))
        assert sc.pop('convert_to_iter_based')
        scheds.append(cls.build_iter_from_epoch(opt, **sc, epoch_length=iters))
    lr, warm, total = 8e-6, 5 * iters, 40 * iters
    for t in range(total):
        if t < warm:
            want = t * lr / (warm - 1)
        else:
            want = lr / 100 + 0.5 * (lr - lr / 100) * (
                1 + math.cos(math.pi * (t - warm) / (total - warm)))
        assert opt.param_groups[0]['lr'] == pytest.approx(want, rel=1e-6, abs=1e-12), t
        opt.step()
        for s in scheds:
            s.step()
