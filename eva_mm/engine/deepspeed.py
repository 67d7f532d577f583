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

``import eva_mm`` registers it in mmengine's strategy registry under mmengine's own name, so a
config's ``strategy = dict(type='DeepSpeedStrategy', ...)`` builds it (``FlexibleRunner`` keys
its DeepSpeed set-up on that name, so the name stays). Its arguments are mmengine's.
"""
import os.path as osp
from typing import Callable, Optional, Union

from mmengine._strategy import DeepSpeedStrategy as _MMEngineDeepSpeedStrategy
from mmengine.registry import STRATEGIES


class DeepSpeedStrategy(_MMEngineDeepSpeedStrategy):
    """mmengine's DeepSpeed strategy, with the runner's checkpoint hooks run on save and load
    (see the module docstring)."""

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


def _run(callback: Optional[Callable], checkpoint: Optional[dict]) -> dict:
    if checkpoint is None:  # DeepSpeed found no checkpoint there and loaded nothing
        raise FileNotFoundError('DeepSpeed loaded no checkpoint (see its warning above)')
    if callback is not None:
        callback(checkpoint)
    return checkpoint


# replaces mmengine's class under its own name (mmengine registered it when mmengine._strategy
# was imported above, so a later registry look-up does not undo this)
STRATEGIES.register_module(name='DeepSpeedStrategy', module=DeepSpeedStrategy, force=True)
