"""Moving-shapes videos through mmaction2's decord pipeline, a training step on them,
multi-clip x multi-crop averaging, one validation step of every paper Kinetics config, the
single-frame transform and unreadable video files."""
import importlib.util
import os.path as osp
import shutil

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

import eva_mm  # noqa: F401
from eva_mm.video import VideoReadError
from mmaction.registry import DATASETS, MODELS  # noqa: E402  (after eva_mm)

ROOT = osp.join(osp.dirname(__file__), '..')
_spec = importlib.util.spec_from_file_location(
    'make_moving_shapes', osp.join(ROOT, 'tools', 'data', 'make_moving_shapes.py'))
ms = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ms)
TINY_CFG = osp.join(ROOT, 'configs', 'video', 'eva-tiny_moving-shapes.py')


pytestmark = pytest.mark.usefixtures('one_thread')  # conftest.py


@pytest.fixture(scope='module')
def shapes_dir(tmp_path_factory):
    out = str(tmp_path_factory.mktemp('moving_shapes'))
    ms.generate(out, num_train=16, num_val=8, num_frames=12, size=32, seed=0, verbose=False)
    return out


def _pipeline(clip_len=12, num_clips=1, extra=()):
    init_default_scope('mmaction')
    return Compose([
        dict(type='eva_mm.CheckedDecordInit'),
        dict(type='SampleFrames', clip_len=clip_len, frame_interval=1, num_clips=num_clips,
             test_mode=True),
        dict(type='eva_mm.CheckedDecordDecode'), *extra])


def _shift(a: np.ndarray, b: np.ndarray):
    """(dy, dx) that best maps mask ``a`` onto ``b`` on the torus (circular correlation)."""
    corr = np.real(np.fft.ifft2(np.conj(np.fft.fft2(a)) * np.fft.fft2(b)))
    dy, dx = np.unravel_index(np.argmax(corr), corr.shape)
    S = a.shape[0]
    return (dy + S // 2) % S - S // 2, (dx + S // 2) % S - S // 2


def test_generator_lists_determinism_and_motion(shapes_dir, tmp_path):
    assert open(osp.join(shapes_dir, 'classes.txt')).read().split() == list(ms.CLASSES)
    lines = open(osp.join(shapes_dir, 'train_list.txt')).read().splitlines()
    assert len(lines) == 16 and [int(ln.split()[1]) for ln in lines[:4]] == [0, 1, 2, 3]
    again = str(tmp_path / 'again')
    ms.generate(again, num_train=4, num_val=0, num_frames=12, size=32, seed=0, verbose=False)
    for i in range(4):
        a = open(osp.join(shapes_dir, 'videos', 'train', f'{i:05d}.mp4'), 'rb').read()
        b = open(osp.join(again, 'videos', 'train', f'{i:05d}.mp4'), 'rb').read()
        assert a == b, 'the generator must be deterministic'
    # read back with decord through mmaction2's pipeline; the shape moves as the label says
    pipe = _pipeline()
    expect = {0: (0, 1), 1: (0, -1), 2: (1, 0), 3: (-1, 0)}  # (sign dy, sign dx)
    for ln in lines[:8]:
        rel, label = ln.split()
        r = pipe(dict(filename=osp.join(shapes_dir, rel), start_index=0, modality='RGB'))
        imgs = np.stack(r['imgs'])
        assert imgs.shape == (12, 32, 32, 3) and imgs.dtype == np.uint8
        masks = (imgs.max(-1) >= 120).astype(np.float32)
        shifts = np.array([_shift(masks[t], masks[t + 1]) for t in range(11)])
        dy, dx = np.median(shifts, axis=0)
        assert (np.sign(dy), np.sign(dx)) == expect[int(label)], (rel, shifts)
        assert 1 <= abs(dy) + abs(dx) <= 5


def test_repeat_frame_makes_motionless_clips(shapes_dir):
    from eva_mm.video import RepeatFrame
    pipe = _pipeline(clip_len=4, num_clips=2)
    r = pipe(dict(filename=osp.join(shapes_dir, 'videos/val/00000.mp4'), start_index=0,
                  modality='RGB'))
    frames = [f.copy() for f in r['imgs']]
    out = RepeatFrame('middle')(r)['imgs']
    assert len(out) == 8
    for c in range(2):
        for t in range(4):
            np.testing.assert_array_equal(out[c * 4 + t], frames[c * 4 + 2])
    held = RepeatFrame(hold=2)(dict(imgs=frames, clip_len=4, num_clips=2))['imgs']
    for i, j in enumerate([0, 0, 2, 2, 4, 4, 6, 6]):
        np.testing.assert_array_equal(held[i], frames[j])
    with pytest.raises(ValueError, match='index 5 out of range'):
        RepeatFrame(5)(dict(imgs=frames, clip_len=4, num_clips=2))


def _tiny_model():
    cfg = Config.fromfile(TINY_CFG)
    init_default_scope('mmaction')
    m = cfg.model
    m.backbone.arch = dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)
    m.cls_head.in_channels = 32
    torch.manual_seed(0)
    return cfg, MODELS.build(m)


def test_training_step_on_generated_videos(shapes_dir):
    """The tiny config's own dataset + pipeline (decord) + model: loss falls on a fixed batch."""
    cfg, model = _tiny_model()
    ds_cfg = cfg.train_dataloader.dataset
    ds_cfg.ann_file = osp.join(shapes_dir, 'train_list.txt')
    ds_cfg.data_prefix = dict(video=shapes_dir)
    ds = DATASETS.build(ds_cfg)
    assert len(ds) == 16
    batch = pseudo_collate([ds[i] for i in range(8)])
    assert batch['inputs'][0].shape == (1, 3, 8, 32, 32)
    optim = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=1e-3))
    model.train()
    losses = [model.train_step(batch, optim)['loss_cls'].item() for _ in range(40)]
    assert np.isfinite(losses).all()
    assert losses[-1] < 0.5 * losses[0], losses


def test_multi_clip_multi_crop_average():
    """mmaction2's average_clips on a known input: 'prob' = mean of per-view softmax,
    'score' = mean of the scores, per video."""
    _, model = _tiny_model()
    head = model.cls_head
    scores = torch.randn(2 * 6, 4)
    got = head.average_clip(scores, num_segs=6)
    want = torch.stack([F.softmax(scores[v * 6:(v + 1) * 6], 1).mean(0) for v in range(2)])
    torch.testing.assert_close(got, want)
    head.average_clips = 'score'
    torch.testing.assert_close(head.average_clip(scores, num_segs=6),
                               scores.view(2, 6, 4).mean(1))


def test_multi_view_test_step_averages_views(shapes_dir):
    """2 clips x 3 crops through the real test pipeline: the prediction is the mean softmax
    over the 6 views, each view scored alone."""
    cfg, model = _tiny_model()
    model.eval()
    pipe = cfg.test_dataloader.dataset.pipeline
    pipe.insert(3, dict(type='Resize', scale=(48, 32), keep_ratio=False))  # 3 distinct crops
    ds_cfg = cfg.test_dataloader.dataset
    ds_cfg.ann_file = osp.join(shapes_dir, 'val_list.txt')
    ds_cfg.data_prefix = dict(video=shapes_dir)
    ds = DATASETS.build(ds_cfg)
    data = pseudo_collate([ds[0], ds[1]])
    assert data['inputs'][0].shape == (6, 3, 8, 32, 32)
    views = data['inputs'][0]
    assert not torch.equal(views[0], views[1]) and not torch.equal(views[1], views[2])
    with torch.no_grad():
        pred = model.test_step(data)
        inputs = model.data_preprocessor(data, False)['inputs']  # (2, 6, C, T, H, W)
        for i in range(2):
            logits = model.cls_head(model.backbone(inputs[i]))
            torch.testing.assert_close(pred[i].pred_score, F.softmax(logits, 1).mean(0))
        # the paper configs' max_testing_views (views in chunks; test batch 1) agrees
        model.test_cfg = dict(max_testing_views=4)
        one = pseudo_collate([ds[1]])
        torch.testing.assert_close(model.test_step(one)[0].pred_score, pred[1].pred_score)


@pytest.mark.parametrize('name', ['eva_k722.py', 'eva_k400.py', 'eva_k600.py', 'eva_k700.py'])
def test_kinetics_config_runs_a_validation(shapes_dir, tmp_path, name):
    """Issue 13: each paper Kinetics config, unchanged but for a tiny backbone and 3 generated
    videos, runs its validation through mmengine's Runner (its val loader, batch size,
    pipeline at 224 and the model's test_cfg). It died at the first validation batch when the
    val batch size and ``max_testing_views`` disagreed."""
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'video', name))
    cfg.model.backbone.update(arch=dict(embed_dims=32, num_layers=2, num_heads=2,
                                        feedforward_channels=64), with_cp=False, init_cfg=None)
    cfg.model.cls_head.update(in_channels=32, init_cfg=None)
    ann = tmp_path / 'val.txt'
    ann.write_text(''.join(open(osp.join(shapes_dir, 'val_list.txt')).readlines()[:3]))
    cfg.val_dataloader.dataset.update(ann_file=str(ann), data_prefix=dict(video=shapes_dir))
    cfg.val_dataloader.update(num_workers=0, persistent_workers=False)
    cfg.default_hooks.checkpoint = None  # save_best needs a training run (before_train)
    cfg.work_dir = str(tmp_path / 'work')
    cfg.visualizer.vis_backends = []
    runner = Runner.from_cfg(cfg)
    metrics = runner.val()
    assert set(metrics) >= {'acc/top1', 'acc/top5'} and 0 <= metrics['acc/top1'] <= 1


def test_unreadable_and_truncated_videos_name_the_file(shapes_dir, tmp_path):
    pipe = _pipeline(clip_len=8)
    good = osp.join(shapes_dir, 'videos/train/00000.mp4')
    garbage = tmp_path / 'garbage.mp4'
    garbage.write_bytes(b'this is not a video' * 100)
    truncated = tmp_path / 'truncated.mp4'
    data = open(good, 'rb').read()
    truncated.write_bytes(data[:len(data) // 2])
    empty = tmp_path / 'empty.mp4'
    empty.write_bytes(b'')
    for bad in (garbage, truncated, empty):
        with pytest.raises(VideoReadError, match=bad.name):
            pipe(dict(filename=str(bad), start_index=0, modality='RGB'))
    with pytest.raises(FileNotFoundError, match='missing.mp4'):
        pipe(dict(filename=str(tmp_path / 'missing.mp4'), start_index=0, modality='RGB'))
    # the intact file reads fine through the same pipeline
    r = pipe(dict(filename=shutil.copy(good, tmp_path / 'ok.mp4'), start_index=0,
                  modality='RGB'))
    assert len(r['imgs']) == 8


def test_decode_failure_names_the_file(shapes_dir):
    """Frames the stream cannot deliver (as in a stream cut after its index was written)."""
    from eva_mm.video import CheckedDecordDecode, CheckedDecordInit
    fn = osp.join(shapes_dir, 'videos/train/00001.mp4')
    r = CheckedDecordInit()(dict(filename=fn, start_index=0, modality='RGB'))
    assert r['total_frames'] == 12
    r['frame_inds'] = np.array([0, 5000])
    with pytest.raises(VideoReadError, match=r'cannot decode frames .* of video .*00001\.mp4'):
        CheckedDecordDecode()(r)
