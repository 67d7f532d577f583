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
