"""The tiny classification config trains end to end with mmengine's Runner on a generated
shapes_cls folder: the loss falls and the validation top-1 is computed."""
import os.path as osp

import pytest

import eva_mm  # noqa: F401
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


class _LossRecorder(Hook):
    priority = 'LOWEST'

    def __init__(self) -> None:
        self.losses = []

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self.losses.append(float(outputs['loss']))


def test_make_shapes_cls_is_deterministic(tmp_path):
    import sys
    sys.path.insert(0, osp.join(ROOT, 'tools', 'data'))
    from make_shapes_cls import CLASSES, make_shapes_cls
    a = make_shapes_cls(str(tmp_path / 'a'), 2, 1, 32, seed=3, verbose=False)
    b = make_shapes_cls(str(tmp_path / 'b'), 2, 1, 32, seed=3, verbose=False)
    for split in ('train', 'val'):
        for c in CLASSES:
            for f in sorted((tmp_path / 'a' / split / c).iterdir()):
                assert f.read_bytes() == (tmp_path / 'b' / split / c / f.name).read_bytes()
    with pytest.raises(ValueError, match='positive'):
        make_shapes_cls(str(tmp_path / 'c'), 0, 1)
    assert a != b


def test_tiny_shapes_trains_and_evaluates(tmp_path):
    import sys
    sys.path.insert(0, osp.join(ROOT, 'tools', 'data'))
    from make_shapes_cls import make_shapes_cls
    data = make_shapes_cls(str(tmp_path / 'shapes'), 24, 8, 32, seed=0, verbose=False)
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'cls', 'eva-tiny_shapes.py'))
    cfg.work_dir = str(tmp_path / 'work')
    for dl in (cfg.train_dataloader, cfg.val_dataloader, cfg.test_dataloader):
        dl.dataset.data_root = data
    cfg.train_cfg.max_epochs = 4  # 3 iterations of 32 images per epoch
    cfg.train_cfg.val_interval = 4
    cfg.param_scheduler[1].T_max = 3
    cfg.param_scheduler[1].end = 4
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=4)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=100)
    cfg.log_level = 'WARNING'
    runner = Runner.from_cfg(cfg)
    rec = _LossRecorder()
    runner.register_hook(rec)
    runner.train()
    assert len(rec.losses) == 12
    first, last = sum(rec.losses[:3]) / 3, sum(rec.losses[-3:]) / 3
    assert last < first - 0.05, f'loss did not fall: {rec.losses}'
    metrics = runner.test()
    top1 = metrics['accuracy/top1']
    assert 0. <= top1 <= 100.
    assert osp.isfile(osp.join(cfg.work_dir, 'epoch_4.pth'))
