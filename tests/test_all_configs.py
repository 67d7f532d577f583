"""Checks that apply to every training config in configs/ and projects/."""
import glob
import os.path as osp

import pytest
from mmengine.config import Config

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(glob.glob(osp.join(ROOT, 'configs', '*', '*.py')))
CONFIGS = [c for c in CONFIGS if '_base_' not in c]


def test_there_are_configs_of_every_task():
    tasks = {osp.basename(osp.dirname(c)) for c in CONFIGS}
    assert {'cls', 'det', 'pretrain', 'seg', 'video'} <= tasks


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: osp.relpath(p, ROOT))
def test_training_configs_restore_random_states_on_resume(path):
    cfg = Config.fromfile(path)
    if cfg.get('train_cfg', 'absent') is None:  # an evaluation protocol (e.g. det *_1536.py)
        assert cfg.get('train_dataloader') is None and cfg.get('optim_wrapper') is None
        assert cfg.test_dataloader and cfg.test_evaluator, f'{path}: evaluates nothing'
        return
    if 'train_cfg' not in cfg or cfg.get('train_dataloader') is None:
        pytest.fail(f'{path} has no training set-up')
    hooks = [h['type'] for h in cfg.get('custom_hooks', [])]
    assert 'eva_mm.RNGStateHook' in hooks, f'{path}: custom_hooks = {hooks}'
