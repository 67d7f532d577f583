"""The paper detection configs (COCO, LVIS v1, Objects365 v2) run end to end as written on data
in the datasets' official on-disk layouts (tools/data/make_det_layouts.py): ``tools/train.py``
for 2 iterations with the validation at the end, ``tools/test.py`` on the checkpoint it wrote,
``tools/test.py --tta`` and the ``*_tta.py`` configs, and ``tools/dist_train.sh CONFIG 2`` (two
CPU processes) for LVIS. Overridden: the model size (the official tiny reference detector,
eva_mm.det.testing.tiny_train_cfg), the pixel sizes (128), the data root, the number of
iterations, fp32 (no GPU), 50 test proposals, and the starting weights: a tiny detector
whose classifier favours 8 classes (the configs start from a trained detector; a random one
has no score above the test thresholds, and the metrics of nothing are empty).

Issue 13: every paper config runs end to end on data in the official layouts."""
import glob
import json
import math
import os
import os.path as osp
import subprocess
import uuid

import pytest
import torch
from mmengine.config import Config

import eva_mm  # noqa: F401
from eva_mm.det.testing import tiny_train_cfg

from _cli import run_tool

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
DET = osp.join(ROOT, 'configs', 'det')
SIZE = 128  # square pad / LSJ crop / test resize; the images are 128 x 96
ITERS = 2


pytestmark = pytest.mark.usefixtures('one_thread', 'unformatted_config_text')  # conftest.py


@pytest.fixture(scope='module')
def layouts(tmp_path_factory) -> dict:
    """2 train + 2 val images (128 x 96) per dataset in the official layouts."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        'make_det_layouts', osp.join(ROOT, 'tools', 'data', 'make_det_layouts.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.make_layouts(str(tmp_path_factory.mktemp('det_layouts')), images=2,
                            size=(SIZE, SIZE * 3 // 4), train_images=2)


def metric_keys(cfg: Config) -> list:
    """The headline keys the config's evaluator logs (``coco/bbox_mAP``, ``lvis/segm_AP``)."""
    ev = cfg.val_evaluator
    metrics = [ev.metric] if isinstance(ev.metric, str) else list(ev.metric)
    if ev.type in ('LVISMetric', 'eva_mm.LVISMetricMaxDets'):
        return [f'lvis/{m}_AP' for m in metrics]
    return [f'coco/{m}_mAP' for m in metrics]


def start_weights(cfg: Config, path: str) -> str:
    """A checkpoint of ``cfg``'s model (random) whose classifiers score 8 classes above the
    test thresholds (softmax heads: ~0.12 each; the LVIS sigmoid head: sigmoid(-2) = 0.12)."""
    from mmengine.registry import init_default_scope
    from mmdet.registry import MODELS
    init_default_scope('mmdet')
    torch.manual_seed(0)
    model = MODELS.build(cfg.model.get('module', cfg.model))
    model.init_weights()
    for head in model.roi_head.bbox_head:
        head.fc_cls.bias.data.fill_(-9.0)
        head.fc_cls.bias.data[:8] = -2.0
    torch.save({'meta': {}, 'state_dict': model.state_dict()}, path)
    return path


def tiny_cfg(name: str, data_root: str, work_dir: str, weights: str = None) -> Config:
    """configs/det/``name`` as written, shrunk (see the module docstring)."""
    cfg = tiny_train_cfg(Config.fromfile(osp.join(DET, name)), SIZE, data_root)
    model = cfg.model.get('module', cfg.model)
    model.test_cfg.rpn.update(nms_pre=50, max_per_img=50)
    cfg.train_cfg.max_iters = ITERS
    cfg.train_cfg.val_interval = ITERS
    cfg.default_hooks.checkpoint.interval = ITERS
    cfg.default_hooks.logger.interval = 1
    cfg.log_processor.window_size = 1
    # visualizers are named singletons: a second runner in this process needs its own name
    cfg.visualizer.name = f'det_layouts_{uuid.uuid4().hex}'
    cfg.work_dir = work_dir
    if weights:
        cfg.load_from = weights
        # COCO / LVIS declare load_from only: the pretrained-weights guard sees the start file
        cfg.allow_random_init = set(cfg.pretrained_weights) != {'load_from'}
    return cfg


def val_records(work_dir: str) -> list:
    """The validation records of a run's scalars.json (those with metric keys)."""
    files = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    assert files, f'no scalars.json under {work_dir}'
    recs = [json.loads(line) for line in open(sorted(files)[-1]) if line.strip()]
    return [r for r in recs if any('/' in k for k in r)]


def tools_test(cfg_file: str, ckpt: str, work_dir: str, *extra: str) -> dict:
    """``tools/test.py CFG CKPT --work-dir DIR [extra]`` in this process, with its own visualizer
    (a named singleton: a second runner would log into the first one's directory)."""
    return run_tool('test.py', [cfg_file, ckpt, '--work-dir', work_dir, *extra, '--cfg-options',
                                f'visualizer.name=test_{uuid.uuid4().hex}'])


def assert_metrics(metrics: dict, keys: list) -> None:
    missing = [k for k in keys if k not in metrics]
    assert not missing, f'{missing} not in {sorted(metrics)}'
    for k in keys:
        assert math.isfinite(metrics[k]) and 0 <= metrics[k] <= 1, (k, metrics[k])


CASES = [  # paper config, layout, its TTA config or None
    ('eva_cmrcnn_coco.py', 'coco', 'eva_cmrcnn_coco_tta.py'),
    ('eva_cmrcnn_lvis.py', 'lvis', 'eva_cmrcnn_lvis_tta.py'),
    ('eva_cmrcnn_o365.py', 'o365', None),
]


@pytest.mark.parametrize('name,layout,tta_name', CASES, ids=[c[1] for c in CASES])
def test_paper_config_trains_validates_and_tests(layouts, tmp_path, name, layout, tta_name):
    root = layouts[layout]
    cfg = tiny_cfg(name, root, str(tmp_path / 'work'))
    weights = start_weights(cfg, str(tmp_path / 'start.pth'))
    cfg = tiny_cfg(name, root, str(tmp_path / 'work'), weights)
    keys = metric_keys(cfg)
    cfg_file = str(tmp_path / f'tiny_{name}')
    cfg.dump(cfg_file)

    run_tool('train.py', [cfg_file])
    ckpt = tmp_path / 'work' / f'iter_{ITERS}.pth'
    assert ckpt.is_file()
    assert torch.load(ckpt, map_location='cpu', weights_only=False)['meta']['iter'] == ITERS
    val = val_records(str(tmp_path / 'work'))
    assert len(val) == 1, val  # one validation, at the last iteration
    assert_metrics(val[0], keys)

    test = tools_test(cfg_file, str(ckpt), str(tmp_path / 'test'))
    assert_metrics(test, keys)
    for k in keys:  # the same model on the same images as the validation
        assert test[k] == pytest.approx(val[0][k], abs=1e-9), k
    if tta_name is None:
        assert 'tta_model' not in cfg  # O365: the config defines no TTA
        return
    tta = tools_test(cfg_file, str(ckpt), str(tmp_path / 'tta'), '--tta')
    assert_metrics(tta, keys)
    # the *_tta.py config is `tools/test.py --tta` of its base config
    tta_cfg = tiny_cfg(tta_name, root, str(tmp_path / 'tta_cfg'))
    assert tta_cfg.model.type == cfg.tta_model.type
    tta_file = str(tmp_path / f'tiny_{tta_name}')
    tta_cfg.dump(tta_file)
    tta2 = tools_test(tta_file, str(ckpt), str(tmp_path / 'tta2'))
    for k in keys:
        assert tta2[k] == pytest.approx(tta[k], abs=1e-9), k


def test_lvis_dist_train_two_processes(layouts, tmp_path):
    """``tools/dist_train.sh eva_cmrcnn_lvis.py 2``: two gloo processes train, validate (the
    LVIS metric over both ranks' results) and save."""
    root = layouts['lvis']
    work = tmp_path / 'work'
    cfg = tiny_cfg('eva_cmrcnn_lvis.py', root, str(work))
    cfg.load_from = start_weights(cfg, str(tmp_path / 'start.pth'))
    cfg_file = str(tmp_path / 'tiny_eva_cmrcnn_lvis.py')
    cfg.dump(cfg_file)
    env = dict(os.environ, OMP_NUM_THREADS='1')  # no PORT: dist_train.sh picks a free one
    env.pop('PORT', None)
    p = subprocess.run(['bash', osp.join(ROOT, 'tools', 'dist_train.sh'), cfg_file, '2'],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, (p.stdout + p.stderr)[-5000:]
    assert (work / f'iter_{ITERS}.pth').is_file()
    log = open(glob.glob(str(work / '*' / '*.log'))[0]).read()
    assert 'Distributed training: True' in log and 'GPU number: 2' in log
    val = val_records(str(work))
    assert len(val) == 1
    assert_metrics(val[0], metric_keys(cfg))


def test_tta_config_with_tta_flag_is_a_clear_error():
    """``tools/test.py eva_cmrcnn_coco_tta.py CKPT --tta`` wrapped the TTA model in a second
    one, which died at the first image inside mmdet's data preprocessor ('should be a NCHW
    tensor ... got torch.Size([3, H, W])'); it is now refused when the model is built."""
    from mmengine.registry import init_default_scope
    from mmdet.registry import MODELS
    from eva_mm.det.testing import official_tiny_cfg
    cfg = official_tiny_cfg(Config.fromfile(osp.join(DET, 'eva_cmrcnn_coco_tta.py')), SIZE)
    cfg.tta_model.module = cfg.model  # what tools/test.py --tta does
    init_default_scope('mmdet')
    with pytest.raises(ValueError, match=r'around another test-time-augmentation model '
                                         r'\(eva_mm.DetMaskTTAModel\).*without --tta'):
        MODELS.build(cfg.tta_model)
    plain = official_tiny_cfg(Config.fromfile(osp.join(DET, 'eva_cmrcnn_coco.py')), SIZE)
    plain.tta_model.module = plain.model
    assert type(MODELS.build(plain.tta_model)).__name__ == 'DetMaskTTAModel'


@pytest.mark.parametrize('config', ['det/eva_cmrcnn_coco_tta.py', 'det/eva_cmrcnn_lvis_tta.py',
                                    'seg/eva_mask2former_ade20k_ms.py'])
def test_tools_test_refuses_tta_on_a_tta_config(config, tmp_path):
    """``tools/test.py X_tta.py CKPT --tta`` (any task) stops before building anything, saying
    the config's model already is the TTA wrapper."""
    ckpt = tmp_path / 'never_read.pth'
    with pytest.raises(SystemExit, match=r'already a test-time augmentation wrapper .*'
                                         r'run it without --tta'):
        run_tool('test.py', [osp.join(osp.dirname(DET), config), str(ckpt), '--tta'])
