"""Hooks of eva_mm's training engine."""
import random
from typing import Optional

import numpy as np
import torch
from mmengine.hooks import Hook

from ..registry import HOOKS


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Save the Python, numpy and torch (CPU, and CUDA when present) random states in every
    checkpoint and restore them on resume, so a resumed run draws the same dropout /
    drop-path masks and augmentations as an uninterrupted one (mmengine 0.10.7 re-seeds but
    does not restore them). The states are plain tensors/tuples: weights-only loading reads
    them.

    Validation during training leaves the training random streams as it found them (a val
    data loader with workers draws its worker base seed from the torch stream, a model may
    draw in eval): otherwise a run that validates after a checkpoint and a run resumed from
    that checkpoint, which does not, would draw different drop-path masks from then on.

    What a checkpoint cannot hold is the state of persistent data-loader workers: an
    epoch-based loop resumed at epoch k starts fresh workers, while an uninterrupted run's
    workers have drawn k epochs' augmentations. So with an epoch-based loop, train data
    workers and ``persistent_workers=True``, the hook warns at start that a resume will not
    repeat the run exactly (use ``persistent_workers=False``: workers then start from
    mmengine's per-worker seeds every epoch, in both runs alike). Iteration-based loops replay
    the data up to the resumed iteration, so their persistent workers do repeat."""
    priority = 'LOW'

    _pending: Optional[dict] = None
    _outside_val: Optional[dict] = None

    def before_train(self, runner) -> None:
        loader = getattr(runner.train_loop, 'dataloader', None)
        if (type(runner.train_loop).__name__ == 'EpochBasedTrainLoop'
                and getattr(loader, 'num_workers', 0) > 0
                and getattr(loader, 'persistent_workers', False)):
            runner.logger.warning(
                'RNGStateHook: the train data loader keeps persistent workers in an '
                'epoch-based loop; their random states are not in the checkpoint, so a resumed '
                'run will draw different augmentations than an uninterrupted one. Set '
                'train_dataloader.persistent_workers=False for an exact resume.')

    # Distributed runs: mmengine writes the checkpoint on rank 0 only (``before_save_checkpoint``
    # runs there alone), but every rank has its own random states (per-rank seeds, per-rank
    # data). So every rank's states are gathered where a checkpoint may follow (after a train
    # iteration the CheckpointHook saves at, after each epoch, before a validation, which may
    # save the best checkpoint), ahead of the CheckpointHook (priority LOW, ahead of its
    # VERY_LOW), and rank 0 writes them all; on resume each rank takes its own.
    _gathered: Optional[list] = None

    def _gather(self, runner) -> None:
        from mmengine.dist import all_gather_object, get_world_size
        if get_world_size() > 1:
            self._gathered = all_gather_object(self._outside_val or _get_rng_state())

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        from mmengine.hooks import CheckpointHook
        for h in runner.hooks:  # the same test as CheckpointHook.after_train_iter
            if isinstance(h, CheckpointHook) and not h.by_epoch and (
                    h.every_n_train_iters(runner, h.interval, h.save_begin)
                    or (h.save_last and h.is_last_train_iter(runner))):
                return self._gather(runner)

    def after_train_epoch(self, runner) -> None:
        self._gather(runner)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        # a checkpoint written during validation (e.g. the best one) keeps the training state
        checkpoint['rng_state'] = self._outside_val or _get_rng_state()
        if self._gathered is not None:
            checkpoint['rng_state_per_rank'] = self._gathered

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        from mmengine.dist import get_rank, get_world_size
        state = checkpoint.get('rng_state')
        if state is None:
            runner.logger.warning('RNGStateHook: the checkpoint holds no random states; the '
                                  'resumed run will not repeat the uninterrupted one exactly')
            return
        per_rank, world = checkpoint.get('rng_state_per_rank'), get_world_size()
        if per_rank is not None and len(per_rank) == world:
            state = per_rank[get_rank()]
        elif world > 1 or per_rank is not None:
            runner.logger.warning(
                f'RNGStateHook: the checkpoint holds the random states of '
                f'{len(per_rank) if per_rank else 1} process(es), this run has {world}; every '
                'process takes rank 0\'s, so the resumed run will not repeat the uninterrupted '
                'one exactly')
        _set_rng_state(state)
        self._pending = state

    def before_val(self, runner) -> None:
        self._outside_val = _get_rng_state()
        self._gather(runner)

    def after_val(self, runner) -> None:
        state, self._outside_val = self._outside_val, None
        if state is not None:
            _set_rng_state(state)

    def before_train_epoch(self, runner) -> None:
        """An iteration-based loop resumed at iteration k replays (loads and augments) its
        first k batches to move the sampler on; that draws from the random states restored
        above. Set them again right after the replay, before batch k is loaded, as they were
        when the checkpoint was written."""
        state, self._pending = self._pending, None
        loop = runner.train_loop
        skip = getattr(loop, 'iter', 0)
        if state is None or not skip or not hasattr(loop, 'dataloader_iterator'):
            return
        loop.dataloader_iterator = _RestoreAfterReplay(loop.dataloader_iterator, skip, state)


def _get_rng_state() -> dict:
    state = dict(python=random.getstate(), numpy=np.random.get_state(),
                 torch=torch.get_rng_state())
    if torch.cuda.is_available():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict) -> None:
    random.setstate(state['python'])
    np.random.set_state(state['numpy'])
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])


class _RestoreAfterReplay:
    """Wraps a train loop's data iterator: after ``skip`` batches (the resume replay) it sets
    the saved random states once, then passes batches through unchanged."""

    def __init__(self, iterator, skip: int, state: dict) -> None:
        self._it, self._left, self._state = iterator, skip, state

    def __iter__(self):
        return self

    def __next__(self):
        if self._left == 0 and self._state is not None:
            _set_rng_state(self._state)
            self._state = None
        self._left -= 1
        return next(self._it)

    def __getattr__(self, name: str):
        return getattr(self._it, name)


@HOOKS.register_module()
class ConvertCheckpointHook(Hook):
    """Convert an official whole-model checkpoint (e.g. a released detectron2 EVA-01 detector)
    given as ``load_from`` (or to ``tools/test.py``) to the eva_mm model's keys before mmengine
    loads it, through :func:`eva_mm.models.checkpoint.convert_model_state_dict` (the same
    path as ``tools/model_converters/eva_to_eva_mm.py``). Checkpoints already in eva_mm's
    layout (converted files, resumed runs) pass unchanged. Dropped keys are logged."""
    priority = 'VERY_HIGH'

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        from ..models.checkpoint import (CheckpointError, convert_model_state_dict,
                                         detect_model_layout, unwrap_checkpoint)
        try:
            sd = unwrap_checkpoint(checkpoint)
        except CheckpointError:
            return
        if detect_model_layout(sd) is None:
            return
        out, report = convert_model_state_dict(sd)
        checkpoint.clear()
        checkpoint['state_dict'] = out
        checkpoint['meta'] = dict(converted_from=report.layout)
        runner.logger.info(f'ConvertCheckpointHook: converted a {report.layout!r} checkpoint '
                           f'({len(out)} tensors); {report.notes}')
        for reason in sorted(set(report.dropped.values())):
            keys = [k for k, r in report.dropped.items() if r == reason]
            runner.logger.info(f'ConvertCheckpointHook: dropped {len(keys)} key(s) ({reason}): '
                               f'{keys[:4]}{" ..." if len(keys) > 4 else ""}')
