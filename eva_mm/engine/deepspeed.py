"""DeepSpeed training whose checkpoints run the runner's checkpoint hooks: eva_mm's
``DeepSpeedStrategy``.

mmengine 0.10.7's ``DeepSpeedStrategy`` (used by ``FlexibleRunner``) takes a ``callback`` in
``save_checkpoint`` / ``resume`` / ``load_checkpoint`` and never calls it, so the runner's
``before_save_checkpoint`` and ``after_load_checkpoint`` hooks never run with DeepSpeed:
``eva_mm.RNGStateHook`` neither saves nor restores the random states, and a resumed run draws
other drop-path masks and augmentations than an uninterrupted one. This strategy runs them:
``before_save_checkpoint`` on every rank before DeepSpeed writes (DeepSpeed keeps rank 0's client
state, as mmengine's other strategies save on rank 0 only), ``after_load_checkpoint`` after the
strategy has loaded and, if the checkpoint's seed differs, re-seeded, so random states a hook
restores are the ones that stay.

It also builds models with 0-dim (scalar) parameters, e.g. EVA-CLIP's ``logit_scale``: deepspeed
0.19's ``DeepSpeedEngine._broadcast_model`` sends every parameter as ``p.data.view(torch.uint8)``,
which torch refuses for a 0-dim tensor whose elements are wider than a byte ("self.dim() cannot
be 0 to view BFloat16 as Byte"), so ``deepspeed.initialize`` failed on every rank of any run
with more than one process. While the engine broadcasts, such parameters are 1-element
vectors viewing the same memory, and 0-dim again afterwards (:func:`scalars_as_vectors`).

``import eva_mm`` registers it in mmengine's strategy registry under mmengine's own name, so a
config's ``strategy = dict(type='DeepSpeedStrategy', ...)`` builds it (``FlexibleRunner`` keys
its DeepSpeed set-up on that name, so the name stays). Its arguments are mmengine's.
"""
import contextlib
import functools
import os.path as osp
from typing import Callable, Iterator, Optional, Union

import torch.nn as nn

from mmengine._strategy import DeepSpeedStrategy as _MMEngineDeepSpeedStrategy
from mmengine.registry import STRATEGIES


class DeepSpeedStrategy(_MMEngineDeepSpeedStrategy):
    """mmengine's DeepSpeed strategy, with the runner's checkpoint hooks run on save and load
    (see the module docstring)."""

    def _wrap_model(self, model: nn.Module) -> nn.Module:
        """Wrap as mmengine does, in a DeepSpeed that can broadcast scalar parameters."""
        _broadcast_scalars_as_vectors()
        return super()._wrap_model(model)

    def save_checkpoint(self, filename: str, *, save_optimizer: bool = True,
                        save_param_scheduler: bool = True, extra_ckpt: Optional[dict] = None,
                        callback: Optional[Callable] = None) -> None:
        """Run ``callback`` (the ``before_save_checkpoint`` hooks) on ``extra_ckpt``, then save
        as mmengine does. Every rank calls this (DeepSpeed requires it)."""
        extra_ckpt = {} if extra_ckpt is None else extra_ckpt
        if callback is not None:
            callback(extra_ckpt)
        super().save_checkpoint(filename, save_optimizer=save_optimizer,
                                save_param_scheduler=save_param_scheduler,
                                extra_ckpt=extra_ckpt)

    def resume(self, filename: str, *, resume_optimizer: bool = True,
               resume_param_scheduler: bool = True, map_location: Union[str, Callable] = 'default',
               callback: Optional[Callable] = None) -> dict:
        """Resume as mmengine does, then run ``callback`` (the ``after_load_checkpoint``
        hooks) on the client state."""
        if not osp.isdir(filename):  # DeepSpeed would warn, load nothing and mmengine fail later
            raise FileNotFoundError(f'{filename} is no DeepSpeed checkpoint folder')
        checkpoint = super().resume(filename, resume_optimizer=resume_optimizer,
                                    resume_param_scheduler=resume_param_scheduler,
                                    map_location=map_location)
        return _run(callback, checkpoint)

    def load_checkpoint(self, filename: str, *, map_location: Union[str, Callable] = 'cpu',
                        strict: bool = False, revise_keys: list = [(r'^module.', '')],
                        callback: Optional[Callable] = None) -> dict:
        """Load as mmengine does, then run ``callback`` (as :meth:`resume`)."""
        checkpoint = super().load_checkpoint(filename, map_location=map_location,
                                             strict=strict, revise_keys=revise_keys)
        return _run(callback, checkpoint)


@contextlib.contextmanager
def scalars_as_vectors(module: nn.Module) -> Iterator[None]:
    """Within the block, every 0-dim parameter of ``module`` has shape ``(1,)`` (a view of its
    memory, so writes to it land in the parameter); 0-dim again afterwards."""
    scalars = [p for p in module.parameters() if p.dim() == 0]
    for p in scalars:
        p.data = p.data.view(1)
    try:
        yield
    finally:
        for p in scalars:
            p.data = p.data.view(())


def _broadcast_scalars_as_vectors() -> None:
    """Make ``DeepSpeedEngine._broadcast_model`` (rank 0's weights to every rank, run once in
    the engine's ``__init__``) see scalar parameters as 1-element vectors. Idempotent."""
    from deepspeed.runtime.engine import DeepSpeedEngine
    broadcast = DeepSpeedEngine._broadcast_model
    if getattr(broadcast, '_eva_mm_scalars', False):
        return

    @functools.wraps(broadcast)
    def broadcast_model(engine) -> None:
        with scalars_as_vectors(engine.module):
            broadcast(engine)

    broadcast_model._eva_mm_scalars = True
    DeepSpeedEngine._broadcast_model = broadcast_model


def _run(callback: Optional[Callable], checkpoint: Optional[dict]) -> dict:
    if checkpoint is None:  # DeepSpeed found no checkpoint there and loaded nothing
        raise FileNotFoundError('DeepSpeed loaded no checkpoint (see its warning above)')
    if callback is not None:
        callback(checkpoint)
    return checkpoint


# replaces mmengine's class under its own name (mmengine registered it when mmengine._strategy
# was imported above, so a later registry look-up does not undo this)
STRATEGIES.register_module(name='DeepSpeedStrategy', module=DeepSpeedStrategy, force=True)
