"""Training runs of the det configs on tiny shapes data: loss falls, LVIS recipe (federated
loss + repeat-factor sampling + lvis-api eval) runs end to end, resume, 2-process gloo DDP,
and the projects/ config (mmdet's stock Mask R-CNN + eva_mm backbone/neck)."""
import glob
import importlib.util
import json
import os
import os.path as osp
import uuid
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

import eva_mm  # noqa: F401

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
TINY = osp.join(ROOT, 'configs', 'det', 'eva-tiny_cmrcnn_shapes.py')
TINY_LVIS = osp.join(ROOT, 'configs', 'det', 'eva-tiny_cmrcnn_shapes-lvis.py')
PROJECT = osp.join(ROOT, 'projects', 'eva_mask_rcnn', 'mask-rcnn_eva-b_simplefpn_1x_coco.py')


@pytest.fixture(scope='module')
def shapes(tmp_path_factory):
    spec = importlib.util.spec_from_file_location(
        'make_shapes_det', osp.join(ROOT, 'tools', 'data', 'make_shapes_det.py'))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = str(tmp_path_factory.mktemp('shapes_det'))
    mod.make_shapes(out, seed=0, size=128, train=16, val=4, lvis_train=24, lvis_val=4,
                    verbose=False)
    return out + '/'


def _point_to(cfg: Config, root: str, ann_train: str, ann_val: str) -> Config:
    tr = cfg.train_dataloader.dataset
    tr = tr.get('dataset', tr)
    tr.data_root = root
    tr.ann_file = ann_train
    for dl in (cfg.val_dataloader, cfg.test_dataloader):
        dl.dataset.data_root = root
        dl.dataset.ann_file = ann_val
    for ev in (cfg.val_evaluator, cfg.test_evaluator):
        ev.ann_file = root + ann_val
    return cfg


def _tiny_cfg(path, root, work_dir, iters, lvis=False, sched_iters=None, **opts) -> Config:
    cfg = Config.fromfile(path)
    if lvis:
        _point_to(cfg, root, 'annotations/lvis_train.json', 'annotations/lvis_val.json')
        for h in cfg.model.roi_head.bbox_head:
            h.loss_cls.class_freq = root + 'annotations/lvis_train.json'
    else:
        _point_to(cfg, root, 'annotations/instances_train.json', 'annotations/instances_val.json')
    cfg.work_dir = str(work_dir)
    # visualizers are named singletons: a unique name per run, or a second runner in the
    # same process would log into the first one's directory
    cfg.visualizer.name = f'det_test_{uuid.uuid4().hex}'
    cfg.train_cfg.max_iters = iters
    cfg.train_cfg.val_interval = iters
    cfg.param_scheduler = [dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0,
                                end=sched_iters or iters)]
    cfg.train_dataloader.batch_size = 2
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.interval = max(iters // 2, 1)
    cfg.default_hooks.checkpoint.max_keep_ckpts = 5
    cfg.merge_from_dict(opts)
    return cfg


def _scalars(work_dir) -> list:
    f = sorted(glob.glob(osp.join(str(work_dir), '*', 'vis_data', 'scalars.json')))[-1]
    return [json.loads(line) for line in open(f) if line.strip()]


def _losses(work_dir) -> list:
    return [r['loss'] for r in _scalars(work_dir) if 'loss' in r]


def test_tiny_shapes_trains_and_loss_falls(shapes, tmp_path):
    from mmengine.runner import Runner
    cfg = _tiny_cfg(TINY, shapes, tmp_path, iters=10)
    cfg.param_scheduler = []  # constant lr: a visible drop within 10 iterations
    runner = Runner.from_cfg(cfg)
    runner.train()
    losses = _losses(tmp_path)
    assert len(losses) == 10 and all(torch.isfinite(torch.tensor(losses)))
    assert sum(losses[-3:]) / 3 < 0.93 * sum(losses[:3]) / 3, losses
    # the validation at the end ran the COCO metric (Soft-NMS + maskness test path)
    val = [r for r in _scalars(tmp_path) if 'coco/bbox_mAP' in r]
    assert len(val) == 1
    assert 0 <= val[0]['coco/bbox_mAP'] <= 1 and 0 <= val[0]['coco/segm_mAP'] <= 1


def test_lvis_recipe_trains_and_evaluates(shapes, tmp_path):
    from mmengine.runner import Runner
    cfg = _tiny_cfg(TINY_LVIS, shapes, tmp_path, iters=4, lvis=True)
    runner = Runner.from_cfg(cfg)
    runner.train()  # federated loss (sampled from the train file's frequencies) + RFS
    ds = runner.train_dataloader.dataset
    assert type(ds).__name__ == 'ClassBalancedDataset' and len(ds) > len(ds.dataset)
    loss_cls = runner.model.roi_head.bbox_head[0].loss_cls
    assert type(loss_cls).__name__ == 'FederatedLoss' and loss_cls._weight is not None
    val = [r for r in _scalars(tmp_path) if 'lvis/bbox_AP' in r]  # the val at the end
    assert len(val) == 1 and 'lvis/segm_APr' in val[0]
    assert 0 <= val[0]['lvis/bbox_AP'] <= 1


def test_resume_continues_where_it_stopped(shapes, tmp_path):
    from mmengine.runner import Runner
    full = Runner.from_cfg(_tiny_cfg(TINY, shapes, tmp_path / 'full', iters=4,
                                     **{'train_cfg.val_interval': 100}))
    full.train()
    lr_full = full.optim_wrapper.get_lr()['lr'][0]
    # the same schedule, stopped after 2 iterations, then resumed to 4
    part = Runner.from_cfg(_tiny_cfg(TINY, shapes, tmp_path / 'part', iters=2, sched_iters=4,
                                     **{'train_cfg.val_interval': 100}))
    part.train()
    ckpt2 = str(tmp_path / 'part' / 'iter_2.pth')
    assert osp.isfile(ckpt2)
    cfg = _tiny_cfg(TINY, shapes, tmp_path / 'part', iters=4, **{'train_cfg.val_interval': 100})
    cfg.resume = True
    cfg.load_from = ckpt2
    resumed = Runner.from_cfg(cfg)
    resumed.train()
    assert resumed.iter == 4
    sd2 = torch.load(ckpt2, map_location='cpu', weights_only=True)
    st = resumed.optim_wrapper.optimizer.state_dict()['state']
    assert max(int(s['step']) for s in st.values()) == 4  # Adam state carried over (2 + 2)
    assert sd2['meta']['iter'] == 2
    assert resumed.optim_wrapper.get_lr()['lr'][0] == pytest.approx(lr_full)
    # exactly the uninterrupted run: the same augmentation draws, RoI samples and updates
    full_sd, res_sd = full.model.state_dict(), resumed.model.state_dict()
    diff = {k: float((full_sd[k].float() - res_sd[k].float()).abs().max()) for k in full_sd}
    assert max(diff.values()) == 0, sorted(diff.items(), key=lambda kv: -kv[1])[:3]


def test_dist_train_two_processes_gloo(shapes, tmp_path):
    work = tmp_path / 'dist'
    opts = [f'train_dataloader.dataset.data_root={shapes}',
            f'val_dataloader.dataset.data_root={shapes}',
            f'test_dataloader.dataset.data_root={shapes}',
            f'val_evaluator.ann_file={shapes}annotations/instances_val.json',
            'train_cfg.max_iters=3', 'train_cfg.val_interval=3', 'train_dataloader.batch_size=1',
            'default_hooks.logger.interval=1', 'default_hooks.checkpoint.interval=3']
    env = dict(os.environ, OMP_NUM_THREADS='1')  # no PORT: dist_train.sh picks a free one
    env.pop('PORT', None)
    p = subprocess.run(['bash', osp.join(ROOT, 'tools', 'dist_train.sh'), TINY, '2',
                        '--work-dir', str(work), '--cfg-options', *opts],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    log = p.stdout + p.stderr
    assert p.returncode == 0, log[-4000:]
    assert osp.isfile(work / 'iter_3.pth')
    logs = glob.glob(str(work / '*' / '*.log'))
    text = open(logs[0]).read()
    assert 'Distributed training: True' in text and 'GPU number: 2' in text  # 2 processes
    assert 'coco/bbox_mAP' in text  # distributed evaluation gathered both ranks


def test_project_config_trains(shapes, tmp_path):
    """mmdet's stock Mask R-CNN config + eva_mm.EVAViT/SimpleFPN via custom_imports."""
    from mmengine.runner import Runner
    from eva_mm.det.testing import shrink_detector_cfg
    cfg = Config.fromfile(PROJECT)
    # mmdet's stock model around eva_mm's backbone and neck
    assert cfg.model.type == 'MaskRCNN' and cfg.model.backbone.type == 'eva_mm.EVAViT'
    assert cfg.model.neck.type == 'eva_mm.SimpleFPN'
    assert cfg.model.roi_head.bbox_head.type == 'Shared2FCBBoxHead'
    shrink_detector_cfg(cfg.model)
    cfg.model.roi_head.bbox_head.num_classes = 3
    cfg.model.roi_head.mask_head.num_classes = 3
    shapes_cfg = Config.fromfile(TINY)
    cfg.train_dataloader = shapes_cfg.train_dataloader
    cfg.train_dataloader.batch_size = 2
    cfg.train_dataloader.dataset.data_root = shapes
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=3, val_interval=100)
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.test_dataloader = cfg.test_cfg = cfg.test_evaluator = None
    cfg.param_scheduler = []
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', by_epoch=False, interval=3)
    cfg.log_processor = dict(by_epoch=False)
    cfg.work_dir = str(tmp_path)
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 3
    loss = runner.message_hub.get_scalar('train/loss')
    assert len(loss.data[0]) == 3 and torch.isfinite(torch.tensor(loss.data[0])).all()
    assert type(runner.model.backbone).__name__ == 'EVAViT'


def test_sigkill_and_resume_ends_bit_identical(shapes, tmp_path):
    """tools/train.py killed with SIGKILL after a checkpoint, resumed with --resume: the final
    weights equal an uninterrupted run's bit for bit (tiny detector, 6 iterations)."""
    import signal
    import time
    opts = [f'train_dataloader.dataset.data_root={shapes}',
            f'val_dataloader.dataset.data_root={shapes}',
            f'test_dataloader.dataset.data_root={shapes}',
            f'val_evaluator.ann_file={shapes}annotations/instances_val.json',
            'train_cfg.max_iters=6',
            'train_cfg.val_interval=100', 'train_dataloader.batch_size=2',
            'default_hooks.checkpoint.interval=2', 'default_hooks.checkpoint.max_keep_ckpts=5',
            'default_hooks.logger.interval=1']
    env = dict(os.environ, OMP_NUM_THREADS='1')
    train = [sys.executable, osp.join(ROOT, 'tools', 'train.py'), TINY]

    def run(work, extra=(), kill_after=None):
        p = subprocess.Popen(train + ['--work-dir', str(work), *extra, '--cfg-options', *opts],
                             cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
        if kill_after is None:
            _, err = p.communicate(timeout=600)
            assert p.returncode == 0, err[-3000:]
            return
        deadline = time.time() + 600
        while not (work / kill_after).exists():  # atomic save: exists = complete
            assert p.poll() is None and time.time() < deadline, 'run ended before the kill'
            time.sleep(0.05)
        p.send_signal(signal.SIGKILL)
        p.communicate()
        assert p.returncode == -signal.SIGKILL

    run(tmp_path / 'full')
    run(tmp_path / 'killed', kill_after='iter_4.pth')
    assert not (tmp_path / 'killed' / 'iter_6.pth').exists()
    run(tmp_path / 'killed', extra=['--resume'])
    full = torch.load(tmp_path / 'full' / 'iter_6.pth', weights_only=True)['state_dict']
    resumed = torch.load(tmp_path / 'killed' / 'iter_6.pth', weights_only=True)
    assert resumed['meta']['iter'] == 6
    diff = {k: float((full[k].float() - v.float()).abs().max())
            for k, v in resumed['state_dict'].items()}
    assert set(diff) == set(full) and max(diff.values()) == 0, max(diff.items(), key=lambda kv: kv[1])
