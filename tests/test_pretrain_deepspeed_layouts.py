"""The DeepSpeed paper pre-training configs, run end to end through ``bash tools/dist_train.sh
CONFIG 2`` (2 CPU processes, gloo; FlexibleRunner + eva_mm's DeepSpeedStrategy, ZeRO stage 1)
on inputs in their official layouts (``tools/data/make_pretrain_layouts.py``), then resumed
with ``--resume`` from the DeepSpeed checkpoint folder they wrote:

- ``eva_mim_clip-l_deepspeed.py``: one epoch of 8 merged-30M images (2 iterations of 2 per
  process), then ``--resume`` for a second epoch (iterations 3 and 4).
- ``eva_clip_g_deepspeed.py``: 2 iterations and the zero-shot ImageNet validation (1000
  classes x 80 OpenAI templates), then ``--resume`` for iteration 3 and its validation.

Overrides, nothing else: the tiny arch of the layout tool's weights (``apply_tiny_arch``), the
iterations, batch 2 (and DeepSpeed's ``train_micro_batch_size_per_gpu``, which the configs
take from the batch size when they are read), a log line per iteration, one DataLoader
worker, and the one device override: DeepSpeed has no fp16 on CPU, so the strategy runs bf16
(as ``configs/pretrain/eva-tiny_mim_shapes_deepspeed.py``); everything else of the strategy
(ZeRO-1 settings, gradient clipping, ``inputs_to_half``, activation checkpointing) is the
config's.

Also: deepspeed 0.19 could not build an engine for a model with a 0-dim parameter (EVA-CLIP's
``logit_scale``) in a run of several processes; eva_mm's DeepSpeedStrategy now can
(``test_broadcast_of_a_scalar_parameter``).
"""
import glob
import json
import os
import os.path as osp
from typing import Dict, List

import numpy as np
import pytest
import torch
from mmengine.config import Config

from _cli import run_dist_train, run_tool
from test_pretrain_layouts import tiny_config as tiny_layout_config

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))

CONFIGS = {'mim': 'eva_mim_clip-l_deepspeed.py', 'clip': 'eva_clip_g_deepspeed.py'}
IMAGES = 8  # merged-30M images: 2 iterations of batch 2 in each of the two processes
PROCS = 2

pytestmark = pytest.mark.usefixtures('one_thread')  # conftest.py


@pytest.fixture(scope='module')
def layouts(tmp_path_factory) -> str:
    """The official layouts (LAION index included) and the two tiny DeepSpeed configs, under
    one folder (the configs' working directory)."""
    root = str(tmp_path_factory.mktemp('pretrain_ds_layouts'))
    run_tool(osp.join('data', 'make_pretrain_layouts.py'),
             [root, '--images', str(IMAGES), '--shards', '2', '--samples', '8', '--val', '4'])
    for kind, name in CONFIGS.items():
        tiny_config(name, kind).dump(osp.join(root, name))
    return root


def tiny_config(name: str, kind: str) -> Config:
    """``configs/pretrain/<name>`` as written except the overrides of the module docstring
    (those of the non-DeepSpeed layout test, plus the strategy's batch size and bf16)."""
    cfg = tiny_layout_config(name, kind, cpu_optim=False)
    cfg.strategy.train_micro_batch_size_per_gpu = 2
    # CPU: "Type fp16 is not supported on your device" -> bf16 (no loss scaling)
    assert cfg.strategy.pop('fp16')['enabled']
    cfg.strategy.bf16 = dict(enabled=True)
    return cfg


def _runs(work: str) -> List[str]:
    """The timestamped run folders of ``work``, oldest first."""
    return sorted(d for d in glob.glob(osp.join(work, '*')) if osp.isdir(d)
                  and not d.endswith('.pth'))


def _run_log(run: str) -> str:
    logs = glob.glob(osp.join(run, '*.log'))
    assert len(logs) == 1, logs
    return open(logs[0]).read()


def _scalars(run: str) -> List[dict]:
    with open(osp.join(run, 'vis_data', 'scalars.json')) as f:
        return [json.loads(line) for line in f]


def _deepspeed_checkpoint(folder: str) -> Dict[str, dict]:
    """The files of a DeepSpeed checkpoint folder written by this test's runs (DeepSpeed
    pickles a few objects, so read as DeepSpeed reads them: ``weights_only=False``)."""
    want = {'mp_rank_00_model_states.pt'} | {
        f'bf16_zero_pp_rank_{r}_mp_rank_00_optim_states.pt' for r in range(PROCS)}
    assert osp.isdir(folder) and set(os.listdir(folder)) == want, folder
    return {n: torch.load(osp.join(folder, n), map_location='cpu', weights_only=False)
            for n in sorted(want)}


def _train(config: str, work: str, resume: bool = False, options: List[str] = ()) -> List[dict]:
    """``bash tools/dist_train.sh CONFIG 2`` (``--resume``: from ``last_checkpoint``); checks
    that both processes ran and returns the logged training records of this run."""
    args = ['--work-dir', work] + (['--resume'] if resume else [])
    if options:
        args += ['--cfg-options', *options]
    run_dist_train(config, PROCS, args)
    run = _runs(work)[-1]
    log = _run_log(run)
    assert 'Distributed training: True' in log and f'GPU number: {PROCS}' in log  # world 2
    assert 'DeepSpeedStrategy' in log and "runner_type = 'FlexibleRunner'" in log
    records = _scalars(run)
    train = [r for r in records if 'loss' in r]
    assert train and all(np.isfinite(r['loss']) for r in train)
    return records


def _assert_resumed(log: str, first: List[dict], second: List[dict], epoch: int,
                    it: int) -> None:
    """The resumed run started at (``epoch``, ``it``) and its lr goes on from there: the
    warm-up is linear in the iteration, so every step adds the same amount."""
    assert 'Resume checkpoint from' in log and f'resumed epoch: {epoch}, iter: {it}' in log
    assert [r['iter'] for r in second][0] == it + 1
    lrs = [r['lr'] for r in first + second]
    steps = np.diff(lrs)
    assert steps[0] > 0 and steps == pytest.approx(steps[0], rel=1e-3), lrs


def test_mim_deepspeed_paper_config(layouts, monkeypatch):
    monkeypatch.chdir(layouts)  # data/ and checkpoints/ as the config says
    work = 'work_dirs/mim_ds'
    first = [r for r in _train(CONFIGS['mim'], work) if 'loss' in r]
    # every image once per epoch, split over the processes (batch 2)
    assert [r['iter'] for r in first] == [1, 2]
    assert all(-1 <= r['cos_sim'] <= 1 for r in first)
    ckpt = _deepspeed_checkpoint(osp.join(work, 'epoch_1.pth'))
    states = ckpt['mp_rank_00_model_states.pt']
    assert states['meta']['epoch'] == 1 and states['meta']['iter'] == 2
    assert states['global_steps'] == 2 and states['global_samples'] == IMAGES
    assert states['dp_world_size'] == PROCS
    # bf16 weights; the frozen teacher is the configured file (in bf16) after training
    sd = states['module']
    assert sd['backbone.pos_embed'].dtype == torch.bfloat16
    clip = torch.load('checkpoints/openai_clip_vit-l-14.pth', map_location='cpu')
    teacher = {k[len('teacher.'):]: v for k, v in sd.items() if k.startswith('teacher.')}
    assert teacher and all(torch.equal(v, clip[k].bfloat16()) for k, v in teacher.items())
    student = torch.load(osp.join(work, 'eva_mim_student.pth'), map_location='cpu')
    assert torch.equal(student['state_dict']['backbone.pos_embed'],
                       sd['backbone.pos_embed'].float())

    second = [r for r in _train(CONFIGS['mim'], work, resume=True,
                                options=['train_cfg.max_epochs=2']) if 'loss' in r]
    assert [r['iter'] for r in second] == [3, 4]
    _assert_resumed(_run_log(_runs(work)[-1]), first, second, epoch=1, it=2)
    states = _deepspeed_checkpoint(osp.join(work, 'epoch_2.pth'))['mp_rank_00_model_states.pt']
    assert states['meta']['epoch'] == 2 and states['global_steps'] == 4


def test_eva_clip_deepspeed_paper_config(layouts, monkeypatch):
    monkeypatch.chdir(layouts)
    work = 'work_dirs/clip_ds'
    records = _train(CONFIGS['clip'], work)
    first = [r for r in records if 'loss' in r]
    assert [r['iter'] for r in first] == [1, 2]
    assert all(r['loss'] > 0 for r in first)
    val = [r for r in records if 'zero_shot/top1' in r]
    assert len(val) == 1 and records[-1] is val[0]  # the one validation, after iteration 2
    top1, top5 = val[0]['zero_shot/top1'], val[0]['zero_shot/top5']
    assert 0 <= top1 <= top5 <= 100 and top5 in (0, 25, 50, 75, 100)  # 4 val images
    ckpt = _deepspeed_checkpoint(osp.join(work, 'iter_2.pth'))
    states = ckpt['mp_rank_00_model_states.pt']
    assert states['meta']['iter'] == 2 and states['global_steps'] == 2
    sd = states['module']
    assert sd['logit_scale'].shape == ()  # the scalar DeepSpeed 0.19 could not broadcast
    # the towers started from the configured files (2 warm-up steps of lr <= 1e-6 since;
    # bf16 rounding: 2^-8 relative)
    mim = torch.load('checkpoints/eva_psz14.pt', map_location='cpu')['model']
    clip = torch.load('checkpoints/openai_clip_vit-l-14.pth', map_location='cpu')
    for key, start in (('visual.patch_embed.proj.weight', mim['patch_embed.proj.weight']),
                       ('visual.blocks.1.mlp.fc2.weight', mim['blocks.1.mlp.fc2.weight']),
                       ('text.token_embedding.weight', clip['token_embedding.weight'])):
        assert torch.allclose(sd[key].float(), start.float(), rtol=1e-2, atol=1e-4), key

    records = _train(CONFIGS['clip'], work, resume=True, options=['train_cfg.max_iters=3'])
    second = [r for r in records if 'loss' in r]
    assert [r['iter'] for r in second] == [3]
    _assert_resumed(_run_log(_runs(work)[-1]), first, second, epoch=0, it=2)
    val = [r for r in records if 'zero_shot/top1' in r]
    assert len(val) == 1 and records[-1] is val[0]  # validation at the end of the run
    assert 0 <= val[0]['zero_shot/top1'] <= val[0]['zero_shot/top5'] <= 100
    states = _deepspeed_checkpoint(osp.join(work, 'iter_3.pth'))['mp_rank_00_model_states.pt']
    assert states['meta']['iter'] == 3 and states['global_steps'] == 3


def test_broadcast_of_a_scalar_parameter(monkeypatch):
    """DeepSpeed's own ``_broadcast_model`` (rank 0's weights to every rank, run when the
    engine is built) sends each parameter as ``p.data.view(torch.uint8)``, which fails for a
    0-dim bf16 / fp16 / fp32 parameter; with eva_mm's DeepSpeedStrategy loaded it sends a
    1-element view, and what arrives lands in the parameter, which stays 0-dim."""
    import deepspeed.comm
    from deepspeed.runtime.engine import DeepSpeedEngine
    from deepspeed.utils import groups

    from eva_mm.engine.deepspeed import _broadcast_scalars_as_vectors

    class Model(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.logit_scale = torch.nn.Parameter(torch.tensor(2.5, dtype=torch.bfloat16))
            self.weight = torch.nn.Parameter(torch.zeros(3, dtype=torch.bfloat16))

    sent = []

    def broadcast(tensor, src, group=None, async_op=False):  # rank 0 sends 1.0s
        assert tensor.dtype == torch.uint8
        sent.append(tensor.numel())
        tensor.copy_(torch.ones(tensor.numel() // 2, dtype=torch.bfloat16).view(torch.uint8))

    monkeypatch.setattr(deepspeed.comm, 'broadcast', broadcast)
    monkeypatch.setattr(groups, '_get_broadcast_src_rank', lambda: 0)
    engine = type('Engine', (), {})()  # what _broadcast_model reads of the engine
    engine.dist_backend, engine.seq_data_parallel_group = 'gloo', None
    engine.module = Model()

    _broadcast_scalars_as_vectors()
    fixed = DeepSpeedEngine._broadcast_model
    upstream = fixed.__wrapped__
    with pytest.raises(RuntimeError, match='self.dim\\(\\) cannot be 0'):
        upstream(engine)
    sent.clear()
    fixed(engine)
    assert sent == [2, 6]  # bytes of the scalar and of the 3-vector
    assert engine.module.logit_scale.shape == () and engine.module.logit_scale.item() == 1.0
    assert engine.module.weight.tolist() == [1.0, 1.0, 1.0]
    _broadcast_scalars_as_vectors()  # idempotent: wrapped once
    assert DeepSpeedEngine._broadcast_model is fixed
