"""Each fix in eva_mm.compat: the problem exists without it, and the fix removes it."""
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import eva_mm.compat as compat

ENV_NO_COMPAT = dict(os.environ, EVA_MM_NO_COMPAT='1')


def _run(code: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=env,
                          timeout=300)


# -- 1. mmaction2 DRN ---------------------------------------------------------------------
def test_mmaction_models_import_needs_and_gets_the_drn_fix():
    broken = _run('import mmaction.models', env=ENV_NO_COMPAT)
    assert broken.returncode != 0 and "No module named 'mmaction.models.localizers.drn'" \
        in broken.stderr
    fixed = _run('import eva_mm, mmaction.models; from mmaction.registry import MODELS; '
                 'print(MODELS.get("Recognizer3D").__name__)')
    assert fixed.returncode == 0, fixed.stderr
    assert 'Recognizer3D' in fixed.stdout
    from mmaction.models.localizers.drn import DRN
    with pytest.raises(ImportError, match='does not ship mmaction/models/localizers/drn'):
        DRN()


def test_deepspeed_strategy_module_needs_and_gets_the_onebit_fix():
    code = ('import mmengine._strategy.deepspeed as d; d.register_deepspeed_optimizers(); '
            'print(d.DeepSpeedStrategy.__name__)')
    broken = _run(code, env=ENV_NO_COMPAT)
    assert broken.returncode != 0 and 'deepspeed.runtime.fp16.onebit' in broken.stderr
    fixed = _run('import eva_mm.compat;' + code)
    assert fixed.returncode == 0 and 'DeepSpeedStrategy' in fixed.stdout, fixed.stderr
    from deepspeed.runtime.fp16.onebit import OnebitAdam
    with pytest.raises(ImportError, match='deepspeed 0.19 removed the 1-bit optimizers'):
        OnebitAdam()


def test_placeholder_finder_steps_aside_for_real_modules():
    import mmaction.models.localizers as loc
    finder = compat._PlaceholderFinder()
    assert finder.find_spec('json', None) is None
    # the real localizer modules are found by the normal finders, so the placeholder steps aside
    assert finder.find_spec('mmaction.models.localizers.bmn', loc.__path__) is None
    assert finder.find_spec('mmaction.models.localizers.drn', loc.__path__) is not None


# -- 2. weights-only resume ------------------------------------------------------------------
class _Toy:
    """Builders for a tiny mmengine run whose state (momentum, RNG, sampler) matters."""

    @staticmethod
    def cfg(work_dir: str, max_iters: int, crash_after: int = 0) -> dict:
        return dict(
            model=dict(type='EvaMMTestToyModel'),
            work_dir=work_dir,
            train_dataloader=dict(dataset=dict(type='EvaMMTestToyData'),
                                  sampler=dict(type='DefaultSampler', shuffle=True),
                                  batch_size=4, num_workers=0),
            train_cfg=dict(by_epoch=False, max_iters=max_iters, val_interval=1000),
            optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9)),
            param_scheduler=[dict(type='LinearLR', start_factor=0.5, by_epoch=False, end=4)],
            default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=3,
                                               by_epoch=False),
                               logger=dict(type='LoggerHook', interval=1)),
            custom_hooks=[dict(type='EvaMMTestCrashHook', after=crash_after),
                          dict(type='eva_mm.RNGStateHook')],
            randomness=dict(seed=0, deterministic=True),
            default_scope='mmengine', log_level='WARNING')


def _register_toys():
    from mmengine.hooks import Hook
    from mmengine.model import BaseModel
    from mmengine.registry import DATASETS, HOOKS, MODELS
    if 'EvaMMTestToyModel' in MODELS.module_dict:
        return

    class ToyModel(BaseModel):
        def __init__(self):
            super().__init__()
            self.net = nn.Sequential(nn.Linear(8, 16), nn.Dropout(0.3), nn.Linear(16, 1))

        def forward(self, x, y, mode='loss'):
            out = self.net(torch.stack(x) if isinstance(x, list) else x)
            return dict(loss=((out - torch.stack(y).view(-1, 1)) ** 2).mean())

    class ToyData(torch.utils.data.Dataset):
        def __init__(self):
            g = torch.Generator().manual_seed(1)
            self.x = torch.randn(64, 8, generator=g)
            self.y = self.x.sum(1)

        def __len__(self):
            return 64

        def __getitem__(self, i):
            return dict(x=self.x[i], y=self.y[i])

    class CrashHook(Hook):
        def __init__(self, after=0):
            self.after = after

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            if self.after and runner.iter + 1 == self.after:
                raise KeyboardInterrupt('simulated crash')

    MODELS.register_module('EvaMMTestToyModel', module=ToyModel)
    DATASETS.register_module('EvaMMTestToyData', module=ToyData)
    HOOKS.register_module('EvaMMTestCrashHook', module=CrashHook)


def _train(cfg: dict, resume: bool = False):
    from mmengine.config import Config
    from mmengine.runner import Runner
    _register_toys()
    cfg = Config(cfg)
    cfg.resume = resume
    runner = Runner.from_cfg(cfg)
    try:
        runner.train()
    except KeyboardInterrupt:
        pass
    return runner


def test_resume_is_bit_identical(tmp_path):
    full = _train(_Toy.cfg(str(tmp_path / 'a'), 7))
    _train(_Toy.cfg(str(tmp_path / 'b'), 7, crash_after=4))  # checkpoint at iter 3, dies at 4
    assert (tmp_path / 'b' / 'iter_3.pth').exists()
    resumed = _train(_Toy.cfg(str(tmp_path / 'b'), 7), resume=True)
    assert resumed.iter == 7
    for (k, a), b in zip(full.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), k


def test_resume_needs_the_weights_only_fix(tmp_path):
    _train(_Toy.cfg(str(tmp_path), 3))
    ckpt = str(tmp_path / 'iter_3.pth')
    code = ('import torch, sys; from mmengine.runner import CheckpointLoader;'
            f'CheckpointLoader.load_checkpoint({ckpt!r})')
    broken = _run(code, env=ENV_NO_COMPAT)
    assert broken.returncode != 0 and 'Unsupported global' in broken.stderr
    fixed = _run('import eva_mm.compat;' + code)
    assert fixed.returncode == 0, fixed.stderr
    # the message hub comes back with working statistics
    hub = torch.load(ckpt, weights_only=True)['message_hub']
    lr = hub['log_scalars']['train/lr']
    assert lr.statistics('mean') == lr.mean() and lr.statistics('max') == lr.max()


class _Payload:
    def __reduce__(self):
        return (os.system, ('touch /tmp/eva_mm_pwned_resume', ))


def test_pickle_payload_is_not_executed_by_mmengine_loaders(tmp_path):
    from mmengine.runner import load_checkpoint
    marker = Path('/tmp/eva_mm_pwned_resume')
    marker.unlink(missing_ok=True)
    evil = tmp_path / 'iter_3.pth'
    with open(evil, 'wb') as f:
        pickle.dump({'state_dict': {}, 'meta': {'x': _Payload()}}, f)
    with pytest.raises(pickle.UnpicklingError):
        load_checkpoint(nn.Linear(1, 1), str(evil))
    assert not marker.exists()
    # Runner.resume goes through the same loader
    runner = _train(_Toy.cfg(str(tmp_path / 'w'), 1))
    with pytest.raises(pickle.UnpicklingError):
        runner.resume(str(evil))
    assert not marker.exists()


# -- 3. lvis np.float -----------------------------------------------------------------------
def _lvis_files(tmp_path):
    cats = [dict(id=1, name='a', synset='a.n.01', frequency='f', image_count=2,
                 instance_count=2),
            dict(id=2, name='b', synset='b.n.01', frequency='r', image_count=1,
                 instance_count=1)]
    imgs = [dict(id=i, width=64, height=64, neg_category_ids=[], not_exhaustive_category_ids=[],
                 coco_url=f'http://x/{i}.jpg') for i in (1, 2)]
    anns = [dict(id=1, image_id=1, category_id=1, bbox=[4, 4, 20, 20], area=400,
                 segmentation=[[4, 4, 24, 4, 24, 24, 4, 24]]),
            dict(id=2, image_id=2, category_id=1, bbox=[30, 30, 10, 12], area=120,
                 segmentation=[[30, 30, 40, 30, 40, 42, 30, 42]]),
            dict(id=3, image_id=2, category_id=2, bbox=[2, 40, 16, 16], area=256,
                 segmentation=[[2, 40, 18, 40, 18, 56, 2, 56]])]
    gt = tmp_path / 'lvis_gt.json'
    gt.write_text(json.dumps(dict(images=imgs, annotations=anns, categories=cats)))
    dets = [dict(image_id=a['image_id'], category_id=a['category_id'], bbox=a['bbox'],
                 score=0.9) for a in anns]
    dets.append(dict(image_id=1, category_id=2, bbox=[40, 40, 10, 10], score=0.1))  # FP
    return str(gt), dets


def test_lvis_eval_runs_with_the_fix_and_not_without(tmp_path):
    from lvis import LVIS, LVISEval, LVISResults
    gt_path, dets = _lvis_files(tmp_path)
    gt = LVIS(gt_path)
    ev = LVISEval(gt, LVISResults(gt, dets), 'bbox')
    ev.run()
    # every object found at IoU 1 and ranked above the only false positive: AP = 1
    assert ev.results['AP'] == pytest.approx(1.0)
    import lvis.eval as lvis_eval
    saved = lvis_eval.np
    lvis_eval.np = np
    try:
        ev2 = LVISEval(gt, LVISResults(gt, dets), 'bbox')
        with pytest.raises(AttributeError, match='float'):
            ev2.run()
    finally:
        lvis_eval.np = saved


# -- 4. distributed on CPU ----------------------------------------------------------------------
def _ddp_worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world),
                      MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    import eva_mm  # noqa: F401
    from mmengine.dist import init_dist
    from mmengine.model import MMDistributedDataParallel
    init_dist('pytorch')  # default backend nccl -> gloo without CUDA
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    ddp = MMDistributedDataParallel(module=model, device_ids=[rank])
    x = torch.full((2, 3), float(rank + 1))
    ddp(x).sum().backward()
    torch.save(model.weight.grad, f'{out}/grad{rank}.pt')
    torch.distributed.destroy_process_group()


def test_cpu_ddp_with_mmengine_init_dist(tmp_path):
    import socket
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    torch.multiprocessing.spawn(_ddp_worker, args=(2, port, str(tmp_path)), nprocs=2)
    g0, g1 = (torch.load(tmp_path / f'grad{r}.pt') for r in (0, 1))
    # grads of sum(W x) over 2 rows of value r+1 are 2(r+1); DDP averages: (2 + 4) / 2 = 3
    assert torch.equal(g0, g1) and torch.allclose(g0, torch.full((1, 3), 3.))


# -- 5. mmengine without pkg_resources -----------------------------------------------------------
def test_mmengine_package_helpers_and_mm_base_configs(tmp_path):
    from mmengine.config import Config
    from mmengine.utils import get_installed_path, is_installed
    assert get_installed_path('mmsegmentation').endswith('mmseg')
    assert is_installed('mmdet') and not is_installed('surely_not_a_package_xyz')
    cfg = tmp_path / 'c.py'
    cfg.write_text("_base_ = ['mmdet::_base_/default_runtime.py']\nfoo = 1\n")
    c = Config.fromfile(str(cfg))
    assert c.foo == 1 and c.default_scope == 'mmdet'


# -- 7. mmcv ops that ignore tensor strides ---------------------------------------------------
# Without the fix each op is wrong on non-contiguous inputs: roi_align / roi_align_rotated /
# modulated_deform_conv2d return wrong values, soft_nms overwrites the caller's boxes.
_STRIDES_CODE = '''
import torch{imp}
from mmcv import ops
from torchvision.ops import roi_align as tv_roi_align
torch.manual_seed(0)
def cl(t):  # same values, channels-last storage (what LayerNorm2d's permute returns)
    return t.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2)
x = torch.randn(2, 8, 16, 16)
rois = torch.tensor([[0, 2., 3., 10., 12.], [1, 0., 0., 15., 9.]])
ref = tv_roi_align(x, rois, 7, 1.0, 0, aligned=True)
rr = torch.tensor([[0, 8., 8., 6., 4., 0.3]])
xy = torch.rand(40, 2) * 50
boxes = torch.cat([xy, xy + torch.rand(40, 2) * 30 + 5], 1)
scores = torch.rand(40)
boxes_cm = boxes.t().contiguous().t()  # e.g. torch.stack([x1, y1, x2, y2], 0).t()
off = torch.randn(2, 18, 16, 16) * 0.5
mask = torch.sigmoid(torch.randn(2, 9, 16, 16))
w = torch.randn(4, 8, 3, 3)
mdc = lambda x, o, m: ops.modulated_deform_conv2d(x, o, m, w, None, 1, 1, 1, 1, 1)
err = dict(
    roi_align=(ops.roi_align(cl(x), rois, 7, 1.0, 0) - ref).abs().max().item(),
    roi_align_rotated=(ops.roi_align_rotated(cl(x), rr, 7, 1.0, 0)
                       - ops.roi_align_rotated(x, rr, 7, 1.0, 0)).abs().max().item(),
    # soft_nms: the result is right, but the caller's (column-major) boxes are overwritten
    soft_nms=float(ops.soft_nms(boxes_cm, scores, 0.5)[1].numel() == 0)
    + (boxes_cm - boxes).abs().max().item(),
    modulated_deform_conv2d=(mdc(cl(x), cl(off), cl(mask)) - mdc(x, off, mask)).abs().max().item())
print(err)
'''


def test_mmcv_stride_blind_ops_need_and_get_the_fix():
    broken = _run(_STRIDES_CODE.format(imp=''), env=ENV_NO_COMPAT)
    assert broken.returncode == 0, broken.stderr
    errs = eval(broken.stdout.strip().splitlines()[-1])
    assert all(e > 1e-3 for e in errs.values()), errs  # each op is wrong without the fix
    fixed = _run(_STRIDES_CODE.format(imp='; import eva_mm'))
    assert fixed.returncode == 0, fixed.stderr
    errs = eval(fixed.stdout.strip().splitlines()[-1])
    assert all(e < 1e-5 for e in errs.values()), errs


def test_roi_align_gradient_reaches_channels_last_features():
    import eva_mm  # noqa: F401
    from mmcv.ops import roi_align
    from torchvision.ops import roi_align as tv_roi_align
    x = torch.randn(1, 4, 12, 12, requires_grad=True)
    rois = torch.tensor([[0, 1., 2., 9., 8.]])
    xcl = x.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2)
    g, = torch.autograd.grad(roi_align(xcl, rois, 5, 1.0, 0).square().sum(), x)
    g_ref, = torch.autograd.grad(tv_roi_align(x, rois, 5, 1.0, 0, True).square().sum(), x)
    torch.testing.assert_close(g, g_ref)


# -- 8. mmseg sliding-window inference with a Mask2Former head -----------------------------------
def test_mask2former_slide_inference_needs_and_gets_the_fix():
    """A 64x80 image padded to 64x96, 64 windows at stride 32 (two windows): the windows'
    logits had the padded image's width and could not be added; with the fix the result is the
    per-pixel mean of the two windows' logits."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmseg.models.segmentors import EncoderDecoder
    from mmseg.registry import MODELS
    init_default_scope('mmseg')
    cfg = Config.fromfile(str(Path(__file__).parents[1] / 'configs' / 'seg'
                              / 'eva-tiny_mask2former_shapes.py'))
    cfg.model.test_cfg = dict(mode='slide', crop_size=(64, 64), stride=(32, 32))
    model = MODELS.build(cfg.model).eval()
    x = torch.randn(1, 3, 64, 96)
    metas = [dict(img_shape=(64, 80), ori_shape=(64, 80), pad_shape=(64, 96))]
    with torch.no_grad():
        with pytest.raises(RuntimeError, match=r'size of tensor a \(96\) must match .*\(128\)'):
            EncoderDecoder.slide_inference.__wrapped__(model, x, [dict(m) for m in metas])
        out = model.slide_inference(x, [dict(m) for m in metas])
        left = model.encode_decode(x[..., :64], [dict(img_shape=(64, 64))])
        right = model.encode_decode(x[..., 32:], [dict(img_shape=(64, 64))])
    assert out.shape == (1, 5, 64, 96)
    torch.testing.assert_close(out[..., :32], left[..., :32])
    torch.testing.assert_close(out[..., 32:64], (left[..., 32:] + right[..., :32]) / 2)
    torch.testing.assert_close(out[..., 64:], right[..., 32:])


# -- 9. deepspeed imported on first use ----------------------------------------------------------
def test_deepspeed_is_imported_on_first_use_with_fixes_4_and_6():
    """``import eva_mm`` (and mmengine.runner) imports neither DeepSpeed nor open_clip, and
    prints no DeepSpeed warning; building a DeepSpeed strategy imports it, and fixes 4 and 6
    are in place then. Without eva_mm, ``mmengine.runner`` imports DeepSpeed."""
    code = '''
import sys, eva_mm, mmengine.runner, mmengine._strategy
import mmengine._strategy.deepspeed as d
import mmengine.dist.utils as dist_utils
print([m in sys.modules for m in ('deepspeed', 'open_clip')], d.deepspeed is not None)
strategy = d.DeepSpeedStrategy(zero_optimization=dict(stage=1), bf16=dict(enabled=True))
import deepspeed
from mmengine.registry import OPTIMIZERS
print(d.deepspeed.__version__ == deepspeed.__version__,
      d.deepspeed.initialize is deepspeed.initialize, OPTIMIZERS.get('OnebitAdam').__module__,
      dist_utils._init_dist_pytorch.__module__)
'''
    out = _run(code)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()  # DeepSpeed logs its import warning to stdout
    assert lines[0] == '[False, False] True', out.stdout  # nothing from DeepSpeed before
    assert any('real_accelerator' in ln for ln in lines[1:-1]), out.stdout  # imported then
    assert lines[-1].split() == ['True', 'True', 'eva_mm.compat', 'eva_mm.compat'], out.stdout
    broken = _run('import sys, mmengine.runner; print("deepspeed" in sys.modules)',
                  env=ENV_NO_COMPAT)
    assert broken.returncode == 0 and broken.stdout.split()[-1] == 'True', broken.stderr


_KILLED_SAVE = r'''
import os, sys
{prelude}
from mmengine.fileio.backends import LocalBackend
path = sys.argv[1]
print('writing', flush=True)
LocalBackend().put(b'x' * (600 * 2**20), path)  # 600 MiB: killed while it writes
print('done', flush=True)
'''


@pytest.mark.parametrize('fixed', [False, True])
def test_checkpoint_killed_during_save_is_complete_or_absent(tmp_path, fixed):
    """A process killed with SIGKILL while mmengine writes a checkpoint: without fix 10 a
    truncated file is left where --resume would look; with it the file is complete or
    absent (only a hidden temporary file may remain)."""
    import signal
    import time
    target = tmp_path / 'iter_4.pth'
    code = _KILLED_SAVE.format(prelude='import eva_mm' if fixed else '')
    env = dict(os.environ, EVA_MM_NO_COMPAT='0' if fixed else '1')
    p = subprocess.Popen([sys.executable, '-c', code, str(target)], stdout=subprocess.PIPE,
                         text=True, env=env)
    assert p.stdout.readline().strip() == 'writing'
    deadline = time.time() + 60
    while time.time() < deadline and not any(tmp_path.iterdir()):
        time.sleep(0.01)  # wait until bytes are being written
    time.sleep(0.05)
    p.send_signal(signal.SIGKILL)
    p.wait()
    if fixed:
        assert not target.exists() or target.stat().st_size == 600 * 2**20
        assert all(f.name.startswith('.iter_4.pth.') for f in tmp_path.iterdir()
                   if f != target)
    else:  # the failure fix 10 removes: a truncated checkpoint under the real name
        assert target.exists() and target.stat().st_size < 600 * 2**20


def test_last_checkpoint_is_written_atomically(tmp_path, monkeypatch):
    """CheckpointHook's last_checkpoint goes through an atomic rename (fix 10)."""
    from mmengine.hooks import CheckpointHook
    replaced = []
    real_replace = os.replace
    monkeypatch.setattr(compat.os, 'replace',
                        lambda a, b: (replaced.append(os.path.basename(b)), real_replace(a, b)))

    from mmengine.logging import MessageHub

    class _Runner:
        work_dir = str(tmp_path)
        message_hub = MessageHub.get_instance(f'atomic_{tmp_path.name}')

        def save_checkpoint(self, out_dir, filename, *args, **kwargs):
            from mmengine.fileio.backends import LocalBackend
            LocalBackend().put(b'ckpt', os.path.join(out_dir, filename))

    hook = CheckpointHook(interval=1, by_epoch=False)
    hook.out_dir = str(tmp_path)
    hook.file_backend = __import__('mmengine').fileio.get_file_backend(str(tmp_path))
    hook._save_checkpoint_with_step(_Runner(), 4, meta={})
    assert replaced == ['iter_4.pth', 'last_checkpoint']
    assert (tmp_path / 'last_checkpoint').read_text().endswith('iter_4.pth')


# -- 12. image loading errors name the file ------------------------------------------------------
def test_undecodable_image_error_needs_and_gets_the_file_name(tmp_path):
    empty = tmp_path / 'empty.jpg'
    empty.write_bytes(b'')
    code = ('from mmcv.transforms import LoadImageFromFile; '
            f'LoadImageFromFile()(dict(img_path={str(empty)!r}))')
    broken = _run(code, env=ENV_NO_COMPAT)
    assert broken.returncode != 0 and 'imdecode' in broken.stderr
    assert 'empty.jpg' not in broken.stderr.strip().splitlines()[-1]
    from mmcv.transforms import LoadImageFromFile
    with pytest.raises(compat.ImageReadError, match=r'cannot read image .*empty\.jpg: error: '):
        LoadImageFromFile()(dict(img_path=str(empty)))
    truncated = tmp_path / 'truncated.jpg'  # decodes to None: mmcv's own message, unchanged
    truncated.write_bytes(b'\xff\xd8\xff\xe0 not a jpeg')
    with pytest.raises(AssertionError, match=r'failed to load image: .*truncated\.jpg'):
        LoadImageFromFile()(dict(img_path=str(truncated)))
    assert LoadImageFromFile(ignore_empty=True)(dict(img_path=str(empty))) is None
