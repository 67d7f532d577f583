"""``tools/dist_train.sh`` across nodes and across a crash, on CPU (gloo), with the tiny shapes
classifier (16 images, batch 2 per process: 4 iterations per epoch, 3 epochs).

* Two nodes (the script launched twice on this machine, ``NNODES=2``, ``NODE_RANK=0/1``, one
  process each) train in lockstep: the final checkpoint is bit-identical to that of one node
  with 2 processes (the same world size), both launchers report world size 2 and ranks 0/1.
* A node alone gives up after ``RDZV_TIMEOUT`` with a clear error; NNODES > 1 without
  MASTER_ADDR is refused.
* ``tools/dist_train.sh CONFIG 2`` SIGKILLed (launcher and both ranks) after a checkpoint and
  resumed with ``--resume`` ends with the uninterrupted run's weights and optimizer state.
"""
import os
import os.path as osp
import socket
import subprocess
import sys
import time

import pytest

from _kill import ROOT, assert_resume_is_exact, differences, kill_tree, load, train

CONFIG = osp.join(ROOT, 'configs', 'cls', 'eva-tiny_shapes.py')
DIST_TRAIN = osp.join(ROOT, 'tools', 'dist_train.sh')
EPOCHS, ITERS_PER_EPOCH = 3, 4  # 4 images per class x 4 classes / (batch 2 x 2 processes)


@pytest.fixture(scope='module')
def opts(tmp_path_factory):
    sys.path.insert(0, osp.join(ROOT, 'tools', 'data'))
    from make_shapes_cls import make_shapes_cls
    data = make_shapes_cls(str(tmp_path_factory.mktemp('shapes')), 4, 1, 32, seed=0,
                           verbose=False)
    return [f'{dl}.dataset.data_root={data}'
            for dl in ('train_dataloader', 'val_dataloader', 'test_dataloader')] + [
        'train_dataloader.batch_size=2', f'train_cfg.max_epochs={EPOCHS}',
        'randomness.seed=0',  # else each launch draws its own (per-rank seeds: the default)
        'default_hooks.checkpoint.interval=1', 'default_hooks.checkpoint.max_keep_ckpts=3',
        'default_hooks.logger.interval=1']


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _launch(node_rank: int, port: int, work, opts, **env) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS='1', NNODES='2', NODE_RANK=str(node_rank),
               MASTER_ADDR='127.0.0.1', PORT=str(port), LOGLEVEL='INFO', **env)
    env['PYTHONPATH'] = os.pathsep.join([ROOT, env.get('PYTHONPATH', '')])
    return subprocess.Popen(['bash', DIST_TRAIN, CONFIG, '1', '--work-dir', str(work),
                             '--cfg-options', *opts], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)


def _finish(procs, timeout: float = 300):
    outs = []
    deadline = time.time() + timeout
    for p in procs:
        try:
            outs.append(p.communicate(timeout=max(1., deadline - time.time()))[0])
        except subprocess.TimeoutExpired:
            for q in procs:
                if q.poll() is None:
                    kill_tree(q.pid)  # the launcher and its rank (in a session of its own)
            raise
    return outs


@pytest.fixture(scope='module')
def runs(opts, tmp_path_factory):
    """At once: one node with 2 processes (the reference, also the uninterrupted run of the
    resume test) and two nodes with 1 process each. Their work dirs and the nodes' launches
    and outputs."""
    one_node, two_nodes = tmp_path_factory.mktemp('one_node'), tmp_path_factory.mktemp('two')
    port = _free_port()
    # the two nodes share one work dir, as on a shared file system
    procs = [_launch(r, port, two_nodes, opts) for r in (0, 1)]
    try:
        train(CONFIG, one_node, opts, nprocs=2, timeout=300)
    finally:
        outs = _finish(procs)
    return one_node, two_nodes, procs, outs


def test_two_nodes_train_in_lockstep(runs):
    reference, work, nodes, outs = runs
    for rank, (p, out) in enumerate(zip(nodes, outs)):
        assert p.returncode == 0, f'node {rank} failed:\n{out[-5000:]}'
        # torchrun's rendezvous result (LOGLEVEL=INFO): this node's process is global rank
        # `rank` of 2
        assert f'group_rank={rank}\n' in out and f'global_ranks=[{rank}]\n' in out, out[-5000:]
        assert 'group_world_size=2\n' in out and 'global_world_sizes=[2]\n' in out
    # rank 0 logs every iteration: ITERS_PER_EPOCH per epoch means the sampler split the data
    # over 2 processes
    last = f'Epoch(train) [{EPOCHS}][{ITERS_PER_EPOCH}/{ITERS_PER_EPOCH}]'
    assert last in outs[0], outs[0][-3000:]
    final = f'epoch_{EPOCHS}.pth'
    two_nodes, one_node = load(work / final), load(reference / final)
    assert two_nodes['meta']['iter'] == one_node['meta']['iter'] == EPOCHS * ITERS_PER_EPOCH
    diff = differences(one_node, two_nodes)
    worst = max(diff.items(), key=lambda kv: kv[1])
    assert worst[1] == 0, f'2 nodes vs 1 node: {sum(v > 0 for v in diff.values())} of ' \
                          f'{len(diff)} tensors differ; worst {worst}'


def test_a_node_alone_times_out_clearly(opts, tmp_path):
    """Each node waits RDZV_TIMEOUT seconds for the other, then fails and says why."""
    alone = [_launch(r, _free_port(), tmp_path / str(r), opts, RDZV_TIMEOUT='3') for r in (0, 1)]
    t0 = time.time()
    outs = _finish(alone, timeout=120)
    assert all(p.returncode != 0 for p in alone), [o[-2000:] for o in outs]
    assert 'waiting for clients. 1/2 clients joined' in outs[0], outs[0][-3000:]
    assert 'timed out' in outs[1] and 'trying to connect to (127.0.0.1' in outs[1], \
        outs[1][-3000:]
    assert time.time() - t0 < 100
    env = {k: v for k, v in os.environ.items() if k != 'MASTER_ADDR'}
    p = subprocess.run(['bash', DIST_TRAIN, CONFIG, '1'], env=dict(env, NNODES='2'),
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and 'NNODES=2 needs MASTER_ADDR' in p.stderr, p.stderr


def test_dist_train_killed_and_resumed_is_exact(opts, runs, tmp_path):
    """Killed (launcher and both ranks) once epoch_1.pth is complete, resumed with --resume
    through dist_train.sh: epoch_3.pth equals the uninterrupted run's bit for bit."""
    assert_resume_is_exact(CONFIG, tmp_path, opts, kill_after='epoch_1.pth',
                           final=f'epoch_{EPOCHS}.pth', nprocs=2, full=runs[0])
