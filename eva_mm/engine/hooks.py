"""Hooks of eva_mm's training engine."""
import random

import numpy as np
import torch
from mmengine.hooks import Hook

from ..registry import HOOKS


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Save the Python, numpy and torch (CPU, and CUDA when present) random states in every
    checkpoint and restore them on resume, so a resumed run draws the same dropout /
    drop-path masks as an uninterrupted one (mmengine 0.10.7 re-seeds but does not restore
    them). The states are plain tensors/tuples: weights-only loading reads them."""
    priority = 'VERY_LOW'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        state = dict(python=random.getstate(), numpy=np.random.get_state(),
                     torch=torch.get_rng_state())
        if torch.cuda.is_available():
            state['cuda'] = torch.cuda.get_rng_state_all()
        checkpoint['rng_state'] = state

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get('rng_state')
        if state is None:
            runner.logger.warning('RNGStateHook: the checkpoint holds no random states; the '
                                  'resumed run will not repeat the uninterrupted one exactly')
            return
        random.setstate(state['python'])
        np.random.set_state(state['numpy'])
        torch.set_rng_state(state['torch'])
        if 'cuda' in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state['cuda'])


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
