"""A DeepSpeed run (FlexibleRunner + DeepSpeedStrategy, ZeRO-1, bf16, 2 CPU processes, the tiny
MIM config) SIGKILLed after a checkpoint and resumed with ``--resume`` ends bit-identical to an
uninterrupted run: weights, fp32 master weights, AdamW moments, lr, step counts and every rank's
random states at the last checkpoint (eva_mm's DeepSpeedStrategy runs the checkpoint hooks that
mmengine's skips). Killed in the middle of writing a checkpoint, it leaves
``last_checkpoint`` naming the previous, complete one.

DeepSpeed saves a checkpoint as a folder (``iter_N.pth/``: ``mp_rank_00_model_states.pt`` with
the bf16 weights and the client state, one ``bf16_zero_pp_rank_R_mp_rank_00_optim_states.pt``
per rank with its ZeRO partition of the optimizer), so the comparison loads those files.
``drop_path_rate=0.1`` makes training draw from the torch random stream, so the random states
eva_mm.RNGStateHook saves and restores (through those hooks) matter.
"""
import os
import os.path as osp
import subprocess
import sys
from pathlib import Path
from typing import Dict, Sequence

import pytest
import torch

import eva_mm.compat as compat
from _kill import ROOT, differences, train

sys.path.insert(0, osp.join(ROOT, 'tools', 'data'))
from make_captioned_shapes import make_captioned_shapes  # noqa: E402

CONFIG = 'configs/pretrain/eva-tiny_mim_shapes_deepspeed.py'
NPROCS = 2
KILL_AFTER, FINAL = 'iter_4.pth', 'iter_6.pth'


@pytest.fixture(scope='module')
def opts(tmp_path_factory) -> Sequence[str]:
    """6 iterations of batch 4 per rank, a checkpoint every 2 keeping 1 (the config's
    ``max_keep_ckpts``), on 32 generated train / 8 val images."""
    data = tmp_path_factory.mktemp('captioned_shapes')
    make_captioned_shapes(str(data), num_train=32, num_val=8, verbose=False)
    return [f'train_dataloader.dataset.data_root={data}',
            f'val_dataloader.dataset.data_root={data}',
            'train_dataloader.batch_size=4', 'val_dataloader.batch_size=8',
            'model.backbone.drop_path_rate=0.1',
            'train_cfg.max_iters=6', 'train_cfg.val_interval=100',
            'default_hooks.checkpoint.interval=2', 'default_hooks.checkpoint.max_keep_ckpts=1',
            'default_hooks.logger.interval=1']


@pytest.fixture(scope='module')
def full(opts, tmp_path_factory) -> Path:
    """The work dir of an uninterrupted run."""
    work = tmp_path_factory.mktemp('ds') / 'full'
    train(CONFIG, work, opts, nprocs=NPROCS)
    return work


def load_deepspeed(folder: Path) -> Dict[str, dict]:
    """Every file of a DeepSpeed checkpoint folder, by name. DeepSpeed pickles a few objects
    (its LossScaler, an enum), so these files (written by this test's runs) are read with
    ``weights_only=False``, as DeepSpeed itself reads them."""
    files = sorted(folder.glob('*.pt'))
    assert files, f'no DeepSpeed checkpoint in {folder}'
    return {f.name: torch.load(f, map_location='cpu', weights_only=False) for f in files}


def assert_same_as_full(full: Path, work: Path) -> None:
    """``FINAL`` of ``work`` equals that of ``full`` in every tensor and number."""
    a, b = load_deepspeed(full / FINAL), load_deepspeed(work / FINAL)
    assert set(a) == set(b) == {'mp_rank_00_model_states.pt'} | {
        f'bf16_zero_pp_rank_{r}_mp_rank_00_optim_states.pt' for r in range(NPROCS)}
    model = 'mp_rank_00_model_states.pt'
    assert a[model]['meta']['iter'] == b[model]['meta']['iter'] == 6
    with torch.no_grad():
        diff = differences(a, b, parts=sorted(a))
    worst = max(diff.items(), key=lambda kv: kv[1])
    assert worst[1] == 0, f'{sum(v > 0 for v in diff.values())} of {len(diff)} tensors differ; ' \
                          f'worst {worst}'
    # RNGStateHook's states reached the checkpoint: every rank's own (compared above too)
    states = a[model]['rng_state_per_rank']
    assert len(states) == NPROCS and not torch.equal(states[0]['torch'], states[1]['torch'])


def test_sigkill_after_checkpoint_and_resume_is_bit_identical(opts, full, tmp_path):
    killed = tmp_path / 'killed'
    train(CONFIG, killed, opts, kill_after=KILL_AFTER, nprocs=NPROCS)
    assert not (killed / FINAL).exists(), 'the run finished before it was killed'
    log = train(CONFIG, killed, opts, extra=['--resume'], nprocs=NPROCS)
    assert 'resumed epoch: 0, iter: 4' in log, log[-3000:]
    assert_same_as_full(full, killed)


# A run that SIGKILLs a rank half-way through writing one file of a DeepSpeed checkpoint
# (DeepSpeed writes each with a plain torch.save): on PYTHONPATH as sitecustomize, so every
# process of the run (launcher and ranks) loads it.
_DIE_WHILE_SAVING = '''
import os
TARGET = os.environ.get('EVA_MM_TEST_DIE_SAVING')
if TARGET:
    import io
    import signal
    import torch
    _save = torch.save

    def _dying_save(obj, f, *args, **kwargs):
        if not (isinstance(f, (str, os.PathLike)) and os.fspath(f).endswith(TARGET)):
            return _save(obj, f, *args, **kwargs)
        buf = io.BytesIO()
        _save(obj, buf, *args, **kwargs)
        data = buf.getvalue()
        with open(f, 'wb') as out:
            out.write(data[:len(data) // 2])
            out.flush()
            os.fsync(out.fileno())
        print(f'test: SIGKILL while writing {f}', flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

    torch.save = _dying_save
'''


def test_kill_during_deepspeed_save_leaves_last_checkpoint_complete(opts, tmp_path):
    """The run (one rank, to save time) dies half-way through writing its optimizer partition of
    ``iter_4.pth/``: what ``--resume`` picks, the checkpoint ``last_checkpoint`` names, must be a
    complete one, ``iter_2.pth``, which ``max_keep_ckpts=1`` would have deleted before the
    save without compat fix 11 (mmengine's CheckpointHook deletes first, saves second), and the
    half-written ``iter_4.pth/`` must not be it."""
    from mmengine.runner import find_latest_checkpoint
    site = tmp_path / 'site'
    site.mkdir()
    (site / 'sitecustomize.py').write_text(_DIE_WHILE_SAVING)
    target = f'{KILL_AFTER}/bf16_zero_pp_rank_0_mp_rank_00_optim_states.pt'
    killed = tmp_path / 'killed'
    cmd = ['bash', osp.join(ROOT, 'tools', 'dist_train.sh'), CONFIG, '1',
           '--work-dir', str(killed), '--cfg-options', *opts]
    env = dict(os.environ, OMP_NUM_THREADS='1', EVA_MM_TEST_DIE_SAVING=target)
    env['PYTHONPATH'] = os.pathsep.join([str(site), ROOT, osp.join(ROOT, 'tests'),
                                         env.get('PYTHONPATH', '')])
    p = subprocess.run(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=600)
    assert p.returncode != 0 and 'test: SIGKILL while writing' in p.stdout, p.stdout[-3000:]
    half = killed / target
    assert half.exists() and not (killed / FINAL).exists()
    with pytest.raises(RuntimeError):  # the half-written partition is unreadable
        torch.load(half, weights_only=False)
    last = find_latest_checkpoint(str(killed))
    assert last == str(killed / 'iter_2.pth'), last
    ckpt = load_deepspeed(Path(last))  # all there and readable: model states + partition
    assert sorted(ckpt) == ['bf16_zero_pp_rank_0_mp_rank_00_optim_states.pt',
                            'mp_rank_00_model_states.pt']
    assert ckpt['mp_rank_00_model_states.pt']['meta']['iter'] == 2
    assert 'rng_state' in ckpt['mp_rank_00_model_states.pt']


def test_fix_11_deletes_the_outdated_checkpoint_after_saving(tmp_path):
    """compat fix 11 on CheckpointHook alone: mmengine's own method deletes the outdated
    checkpoint before the new one is saved; the fixed one deletes it after the new one and
    ``last_checkpoint`` are written."""
    from collections import deque

    from mmengine.fileio import get_file_backend
    from mmengine.hooks import CheckpointHook
    from mmengine.logging import MessageHub

    class Runner:
        """What ``_save_checkpoint_with_step`` uses; ``save_checkpoint`` writes a DeepSpeed-like
        folder and records what is on disk meanwhile."""
        work_dir = str(tmp_path)
        message_hub = MessageHub.get_instance('test_fix_11')
        seen: list = []

        def save_checkpoint(self, out_dir, filename, *args, **kwargs) -> None:
            self.seen.append(sorted(p.name for p in tmp_path.glob('iter_*')))
            (tmp_path / filename).mkdir()
            (tmp_path / filename / 'mp_rank_00_model_states.pt').write_bytes(b'x')

    def run(save_with_step) -> list:
        for old in tmp_path.glob('iter_*'):
            for f in old.iterdir():
                f.unlink()
            old.rmdir()
        hook = CheckpointHook(interval=2, by_epoch=False, max_keep_ckpts=1)
        hook.out_dir, hook.file_backend = str(tmp_path), get_file_backend(str(tmp_path))
        hook.keep_ckpt_ids = deque(maxlen=1)  # as before_train sets it
        runner = Runner()
        runner.seen = []
        for step in (2, 4):
            save_with_step(hook, runner, step, dict(iter=step))
        assert (tmp_path / 'last_checkpoint').read_text() == str(tmp_path / 'iter_4.pth')
        assert sorted(p.name for p in tmp_path.glob('iter_*')) == ['iter_4.pth']
        return runner.seen

    fixed = CheckpointHook._save_checkpoint_with_step
    assert 'delete_old_last' in compat._APPLIED
    upstream = fixed.__wrapped__  # mmengine's method (with fix 10's atomic last_checkpoint)
    assert run(upstream) == [[], []]  # iter_2.pth already gone while iter_4.pth is written
    assert run(fixed) == [[], ['iter_2.pth']]


class _FakeEngine:
    """Stands in for the DeepSpeed engine: records what the strategy saves and hands it back."""

    def __init__(self, events: list) -> None:
        self.events, self.saved = events, None

    def save_checkpoint(self, dirname, tag, client_state, save_latest, **kwargs) -> None:
        self.events.append('deepspeed saves')
        self.saved = dict(client_state)

    def load_checkpoint(self, dirname, tag, **kwargs):
        self.events.append('deepspeed loads')
        return None, dict(self.saved)


def _strategy(cls, events: list):
    """A strategy object without DeepSpeed behind it (no engine, no process group)."""
    import logging
    strategy = object.__new__(cls)
    strategy.model, strategy._randomness, strategy._seed = _FakeEngine(events), dict(seed=0), 0
    strategy.exclude_frozen_parameters = None
    strategy.logger = logging.getLogger('test_resume_deepspeed')
    return strategy


def test_deepspeed_strategy_runs_the_checkpoint_hooks(monkeypatch, tmp_path):
    """mmengine's DeepSpeedStrategy never calls the runner's ``callback`` (so no
    ``before_save_checkpoint`` / ``after_load_checkpoint`` hook runs); the one ``import eva_mm``
    registers under mmengine's name does: before DeepSpeed saves, after it loads."""
    import types

    import mmengine._strategy.deepspeed as upstream_module
    from mmengine.registry import STRATEGIES

    from eva_mm.engine.deepspeed import DeepSpeedStrategy
    assert STRATEGIES.get('DeepSpeedStrategy') is DeepSpeedStrategy
    # the version checks only: DeepSpeed itself is not needed (nor imported) here
    monkeypatch.setattr(upstream_module, 'deepspeed', types.SimpleNamespace(__version__='0.19.8'))
    folder = tmp_path / 'iter_2.pth'
    folder.mkdir()

    def hooks(events):
        def save(ckpt):
            events.append('before_save_checkpoint')
            ckpt['rng_state'] = 'this rank'

        def load(ckpt):
            events.append(f'after_load_checkpoint {ckpt.get("rng_state")}')
        return save, load

    results = {}
    for name, cls in ('mmengine', upstream_module.DeepSpeedStrategy), ('eva_mm', DeepSpeedStrategy):
        events: list = []
        strategy, (save, load) = _strategy(cls, events), hooks(events)
        strategy.save_checkpoint(str(folder), extra_ckpt=dict(meta={}), callback=save,
                                 save_param_scheduler=False)
        strategy.resume(str(folder), resume_optimizer=False, resume_param_scheduler=False,
                        callback=load)
        results[name] = events
    assert results['mmengine'] == ['deepspeed saves', 'deepspeed loads']
    assert results['eva_mm'] == ['before_save_checkpoint', 'deepspeed saves', 'deepspeed loads',
                                 'after_load_checkpoint this rank']
