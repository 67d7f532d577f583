"""Kill-and-resume harness: run ``tools/train.py`` (or ``tools/dist_train.sh``) in a
subprocess, SIGKILL it after a checkpoint exists (or in the middle of writing one), resume with
``--resume`` and compare the final checkpoint with an uninterrupted run's, tensor by tensor.

``work/last_checkpoint`` (what ``--resume`` reads) names a checkpoint only once that checkpoint
is complete (eva_mm's atomic writes, compat fix 10), so that is the moment to kill. ``kill_during_save`` instead makes the run
kill itself half-way through writing that file (``tests/_kill_during_save.py``).
"""
import os
import os.path as osp
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, Iterable, Optional, Sequence

import torch

import eva_mm  # noqa: F401  (weights-only loading of mmengine checkpoints: compat fix 2)

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
TESTS = osp.join(ROOT, 'tests')


def _env(extra_env: Optional[dict]) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS='1')
    env['PYTHONPATH'] = os.pathsep.join([ROOT, TESTS, env.get('PYTHONPATH', '')])
    env.update(extra_env or {})
    return env


def train(config: str, work: Path, opts: Sequence[str], *, extra: Iterable[str] = (),
          kill_after: Optional[str] = None, kill_during_save: Optional[str] = None,
          nprocs: int = 0, env: Optional[dict] = None, timeout: float = 900) -> str:
    """Train ``config`` into ``work``. ``kill_after``: SIGKILL (everything: data workers, the
    launcher and all ranks too, see ``kill_tree``) once ``work/last_checkpoint`` names that
    checkpoint, i.e. once it is complete and is what ``--resume`` picks. ``kill_during_save``: the run kills
    itself while writing that checkpoint file. ``nprocs``: launch through
    ``tools/dist_train.sh`` with that many CPU processes. Returns the run's stderr+stdout."""
    if nprocs:
        cmd = ['bash', osp.join(ROOT, 'tools', 'dist_train.sh'), config, str(nprocs)]
    else:
        cmd = [sys.executable, osp.join(ROOT, 'tools', 'train.py'), config]
    cmd += ['--work-dir', str(work), *extra, '--cfg-options', *opts]
    env = _env(env)
    if kill_during_save:
        env['EVA_MM_TEST_KILL_DURING_SAVE'] = kill_during_save
        env['PYTHONPATH'] = os.pathsep.join([osp.join(TESTS, '_kill_site'), env['PYTHONPATH']])
    p = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, start_new_session=True)
    if kill_after is None:
        try:
            out, _ = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_tree(p.pid)
            p.communicate()
            raise
        if kill_during_save:
            assert p.returncode != 0, 'the run was meant to die while saving: ' + out[-3000:]
            assert 'killing itself while writing' in out, out[-3000:]
        else:
            assert p.returncode == 0, out[-5000:]
        return out
    deadline = time.time() + timeout
    while not _last_checkpoint(work).endswith(kill_after):
        if p.poll() is not None or time.time() > deadline:
            if p.poll() is None:
                kill_tree(p.pid)
            out = p.communicate()[0]
            raise AssertionError(f'run ended (rc={p.returncode}) before {kill_after} was '
                                 f'written:\n{out[-5000:]}')
        time.sleep(0.02)
    kill_tree(p.pid)  # the trainer and its data workers; with nprocs the launcher and all ranks
    out = p.communicate()[0]
    assert p.returncode == -signal.SIGKILL, (p.returncode, out[-3000:])
    return out


def _descendants(pid: int) -> set:
    """``pid``'s children, their children and so on (from the parent ids in ``/proc``)."""
    children: Dict[int, list] = {}
    for stat in Path('/proc').glob('[0-9]*/stat'):
        try:  # 'pid (comm) state ppid ...'; comm may hold spaces and parentheses
            ppid = int(stat.read_text().rsplit(')', 1)[1].split()[1])
        except (OSError, IndexError, ValueError):  # ended meanwhile
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    out, todo = set(), [pid]
    while todo:
        kids = children.get(todo.pop(), [])
        out.update(kids)
        todo += kids
    return out


def _alive(pid: int) -> bool:
    """Running, i.e. neither gone nor a zombie waiting to be reaped."""
    try:
        return Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()[0] not in 'ZX'
    except (OSError, IndexError):
        return False


def kill_tree(pid: int, timeout: float = 30) -> None:
    """SIGKILL the job started as ``pid`` at once, as a crash of the machine would: its process
    group (the trainer and its data workers) and every descendant in any other group (torchrun
    starts each rank in a session of its own, so killing the launcher's group alone leaves
    the ranks training). Everything is stopped (SIGSTOP) first, so that no process reacts to
    another's death (torchrun tears the other ranks down when one dies) or starts a new one.
    Returns once none of them is running any more."""
    stopped: set = set()
    todo = {pid}
    while todo:  # a stopped process starts no other: this ends
        for q in todo:
            try:
                os.kill(q, signal.SIGSTOP)
            except ProcessLookupError:
                pass
        stopped |= todo
        todo = _descendants(pid) - stopped
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    for q in stopped:
        try:
            os.kill(q, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.time() + timeout
    while any(_alive(q) for q in stopped - {pid}):  # not our children: reaped by init
        assert time.time() < deadline, f'still running after SIGKILL: {sorted(stopped)}'
        time.sleep(0.02)


def _last_checkpoint(work: Path) -> str:
    """What ``--resume`` would pick: the path in ``work/last_checkpoint``, written (atomically)
    after the checkpoint itself is complete ('' while there is none)."""
    try:
        return (work / 'last_checkpoint').read_text().strip()
    except FileNotFoundError:
        return ''


def tensors(obj, prefix: str = '') -> Dict[str, torch.Tensor]:
    """Every tensor (and number) inside a nested checkpoint dict / list, by dotted path."""
    out = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.update(tensors(v, f'{prefix}{k}.'))
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            out.update(tensors(v, f'{prefix}{i}.'))
    elif isinstance(obj, torch.Tensor):
        out[prefix[:-1]] = obj
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        out[prefix[:-1]] = torch.tensor(obj, dtype=torch.float64)
    return out


def load(path: Path) -> dict:
    return torch.load(path, map_location='cpu', weights_only=True)


def differences(full: dict, resumed: dict,
                parts: Sequence[str] = ('state_dict', 'optimizer')) -> Dict[str, float]:
    """Largest absolute difference per tensor of ``parts`` of two checkpoints (a key present
    in only one of them is an infinite difference)."""
    diff = {}
    for part in parts:
        a, b = tensors(full.get(part, {}), part + '.'), tensors(resumed.get(part, {}), part + '.')
        assert a, f'the checkpoint holds no {part!r}'
        for k in set(a) | set(b):
            if k not in a or k not in b or a[k].shape != b[k].shape:
                diff[k] = float('inf')
            else:
                diff[k] = float((a[k].double() - b[k].double()).abs().max()) if a[k].numel() else 0.
    return diff


def assert_resume_is_exact(config: str, tmp: Path, opts: Sequence[str], *, kill_after: str,
                           final: str, nprocs: int = 0, during_save: bool = False,
                           parts: Sequence[str] = ('state_dict', 'optimizer'),
                           full: Optional[Path] = None) -> None:
    """Uninterrupted run vs. a run SIGKILLed once ``kill_after`` exists (or, with
    ``during_save``, killed while writing ``kill_after``) and resumed with ``--resume``:
    ``final``'s weights and optimizer state must be bit-identical. ``full``: the work dir of
    an uninterrupted run already trained with the same config, ``opts`` and ``nprocs`` (by
    default one is trained into ``tmp / 'full'``)."""
    full_dir = tmp / 'full' if full is None else Path(full)
    if full is None:
        train(config, full_dir, opts, nprocs=nprocs)
    killed = tmp / 'killed'
    if during_save:
        train(config, killed, opts, kill_during_save=kill_after, nprocs=nprocs)
        assert not (killed / kill_after).exists(), 'a half-written checkpoint was left'
        assert any(f.name.startswith(f'.{kill_after}.') for f in killed.iterdir()), \
            'the run did not die while writing the checkpoint'
    else:
        train(config, killed, opts, kill_after=kill_after, nprocs=nprocs)
    assert not (killed / final).exists(), 'the run finished before it was killed'
    log = train(config, killed, opts, extra=['--resume'], nprocs=nprocs)
    assert 'resumed epoch:' in log, 'the second run did not resume:\n' + log[-3000:]
    full, resumed = load(full_dir / final), load(killed / final)
    assert full['meta'].get('iter') == resumed['meta'].get('iter')
    assert full['meta'].get('epoch') == resumed['meta'].get('epoch')
    diff = differences(full, resumed, parts)
    worst = max(diff.items(), key=lambda kv: kv[1])
    assert worst[1] == 0, f'{sum(v > 0 for v in diff.values())} of {len(diff)} tensors differ; ' \
                          f'worst {worst}'
