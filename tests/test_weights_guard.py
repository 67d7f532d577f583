"""eva_mm's pretrained-weights check: the error names the config key, the file and where to
get it; allow_random_init=True turns unset weights into a warning; the hook refuses a real
training run before any weight is read or any iteration runs, and leaves testing alone; every
pretrain / cls / seg / video training config declares the weights it loads."""
import copy
import glob
import logging
import os.path as osp
import sys

import pytest
from mmengine.config import Config
from mmengine.runner import Runner

import eva_mm  # noqa: F401
from eva_mm.engine import CheckPretrainedWeightsHook, MissingWeightsError, check_pretrained_weights
from eva_mm.engine.weights import config_value, weight_file

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
SCOPE = ('pretrain', 'cls', 'seg', 'video', 'det')
CONFIGS = sorted(c for task in SCOPE
                 for c in glob.glob(osp.join(ROOT, 'configs', task, '*.py')))
HOOK = 'eva_mm.CheckPretrainedWeightsHook'


def _cfg(**kw) -> Config:
    base = dict(model=dict(backbone=dict(init_cfg=dict(type='Pretrained', checkpoint='a.pth')),
                           teacher=dict(checkpoint=None)),
                pretrained_weights={'model.backbone.init_cfg': 'download A from https://a',
                                    'model.teacher.checkpoint': 'make T with tool t'})
    base.update(kw)
    return Config(base)


def test_missing_file_names_key_file_and_source(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(MissingWeightsError) as e:
        check_pretrained_weights(_cfg(allow_random_init=True))
    msg = str(e.value)
    # a file that is set but absent is refused even with allow_random_init
    assert "model.backbone.init_cfg = 'a.pth': file not found" in msg
    assert 'download A from https://a' in msg
    assert 'model.backbone.init_cfg=None allow_random_init=True' in msg
    assert 'model.teacher.checkpoint' not in msg  # unset + allowed: not an error
    assert isinstance(e.value, FileNotFoundError)


def test_unset_weights_need_allow_random_init(tmp_path, monkeypatch, caplog):
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'a.pth').write_bytes(b'x')
    with pytest.raises(MissingWeightsError) as e:
        check_pretrained_weights(_cfg())
    assert 'model.teacher.checkpoint is not set (None)' in str(e.value)
    assert 'make T with tool t' in str(e.value)
    assert 'a.pth' not in str(e.value).split('\n')[1]  # the present file is not listed
    logger = logging.getLogger('test_weights_guard')
    with caplog.at_level(logging.INFO, logger='test_weights_guard'):
        assert check_pretrained_weights(_cfg(allow_random_init=True), logger=logger) == \
            ['model.teacher.checkpoint']
    warn = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warn) == 1 and 'model.teacher.checkpoint' in warn[0].getMessage()
    assert 'RANDOM' in warn[0].getMessage()
    assert any('model.backbone.init_cfg <- a.pth' in r.getMessage() for r in caplog.records)


def test_value_forms_and_bad_input(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / 'w.pth').write_bytes(b'x')
    ok = dict(pretrained_weights={'model.a': 's', 'model.b': 's', 'load_from': 's'},
              load_from='w.pth',
              model=dict(a=[dict(type='Normal'), dict(type='Pretrained', checkpoint='w.pth')],
                         b='w.pth'))
    assert check_pretrained_weights(Config(ok)) == []
    # a declared key absent from the config counts as unset
    with pytest.raises(MissingWeightsError, match='model.c is not set'):
        check_pretrained_weights(Config(dict(ok, pretrained_weights={'model.c': 's'})))
    with pytest.raises(TypeError, match='model.a'):
        check_pretrained_weights(Config(dict(ok, model=dict(a=3, b='w.pth'))))
    with pytest.raises(TypeError, match='allow_random_init'):
        check_pretrained_weights(Config(dict(ok, allow_random_init='yes')))
    with pytest.raises(TypeError, match='pretrained_weights must be a dict'):
        check_pretrained_weights(Config(dict(ok, pretrained_weights=['model.a'])))


def _tiny_mim_cfg(tmp_path) -> Config:
    sys.path.insert(0, osp.join(ROOT, 'tools', 'data'))
    from make_captioned_shapes import make_captioned_shapes
    data = make_captioned_shapes(str(tmp_path / 'shapes'), 8, 4, 48, verbose=False)
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'pretrain', 'eva-tiny_mim_shapes.py'))
    cfg.work_dir = str(tmp_path / 'work')
    cfg.train_dataloader.batch_size = 4
    cfg.val_dataloader.batch_size = 4
    for dl in (cfg.train_dataloader, cfg.val_dataloader):
        dl.dataset.data_root = data
    cfg.log_level = 'WARNING'
    return cfg


def test_hook_refuses_training_before_loading_or_iterating(tmp_path):
    cfg = _tiny_mim_cfg(tmp_path)
    assert cfg.allow_random_init is True  # the tiny config says so explicitly
    cfg.allow_random_init = False
    runner = Runner.from_cfg(copy.deepcopy(cfg))
    with pytest.raises(MissingWeightsError, match='model.teacher.checkpoint is not set'):
        runner.train()
    assert runner.iter == 0
    # a file that is set but missing: the hook's error, not the loader's, comes first
    cfg.model.teacher.checkpoint = str(tmp_path / 'clip.pth')
    cfg.pretrained_weights['model.teacher.checkpoint'] = 'how to make clip.pth'
    runner = Runner.from_cfg(copy.deepcopy(cfg))
    with pytest.raises(MissingWeightsError, match='how to make clip.pth'):
        runner.train()
    # the same config trains with allow_random_init=True and the key at None
    cfg.model.teacher.checkpoint = None
    cfg.allow_random_init = True
    cfg.train_cfg.max_iters = 1
    cfg.train_cfg.val_interval = 10
    cfg.custom_hooks = [h for h in cfg.custom_hooks
                        if h['type'] != 'eva_mm.ValidateBeforeTrainHook']
    runner = Runner.from_cfg(cfg)
    assert any(isinstance(h, CheckPretrainedWeightsHook) for h in runner.hooks)
    runner.train()
    assert runner.iter == 1


def test_hook_leaves_validation_and_testing_alone(tmp_path):
    cfg = _tiny_mim_cfg(tmp_path)
    cfg.allow_random_init = False  # would refuse training
    runner = Runner.from_cfg(cfg)
    assert 'mim/cos_sim' in runner.val()


def _weight_keys(node, path: str):
    """Config keys whose values are weight files: Pretrained init_cfgs, ``checkpoint`` /
    ``text_checkpoint`` strings or None (a model argument that takes a file)."""
    if isinstance(node, dict):
        if node.get('type') == 'Pretrained':
            yield path
            return
        for k, v in node.items():
            if k in ('checkpoint', 'text_checkpoint') and not isinstance(v, dict):
                yield f'{path}.{k}'
            else:
                yield from _weight_keys(v, f'{path}.{k}')
    elif isinstance(node, (list, tuple)):
        for v in node:  # init_cfg lists: the Pretrained entry is the parent key
            if isinstance(v, dict) and v.get('type') == 'Pretrained':
                yield path


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: osp.relpath(p, ROOT))
def test_config_declares_its_weights(path, tmp_path, monkeypatch):
    cfg = Config.fromfile(path)
    if cfg.model.get('type', '').endswith('TTAModel'):
        # a test-time-augmentation wrapper (evaluation only): the config it wraps declares
        # the weights of the trained model
        assert cfg.model.module.get('type') and cfg.get('tta_pipeline') is not None
        return
    if cfg.get('train_cfg', 'absent') is None:  # an evaluation protocol: nothing to train
        assert cfg.get('train_dataloader') is None and cfg.get('optim_wrapper') is None
        return
    hooks = [h['type'] for h in cfg.get('custom_hooks', [])]
    assert HOOK in hooks, f'{path}: custom_hooks = {hooks}'
    declared = cfg.get('pretrained_weights') or {}
    used = set(_weight_keys(cfg.model.to_dict(), 'model'))
    if cfg.get('load_from'):
        used.add('load_from')
    assert used <= set(declared), f'{path}: loads {sorted(used - set(declared))} undeclared'
    tiny = osp.basename(path).startswith('eva-tiny_')
    assert cfg.get('allow_random_init') is tiny, path
    monkeypatch.chdir(tmp_path)  # relative weight paths resolve here, where nothing exists
    if not tiny:
        assert declared, f'{path}: a paper config that declares no pretrained weights'
        with pytest.raises(MissingWeightsError) as e:
            check_pretrained_weights(cfg)
        for key in declared:
            assert key in str(e.value)
    for key in declared:  # put every declared file in place: then the check passes
        f = weight_file(config_value(cfg, key))
        if f:
            (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / f).write_bytes(b'')
    unset = check_pretrained_weights(cfg)
    assert not unset or tiny, f'{path}: paper config with weights left at None: {unset}'
