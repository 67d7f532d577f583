"""Fixes for upstream breakages in eva_mm's pinned stack, applied on ``import eva_mm``.

Never edit installed packages and never vendor them: each fix below patches one named
problem at run time, is idempotent, and has a test in ``tests/test_compat.py``.

1. mmaction2 1.2.0 (PyPI wheel and sdist) ships without ``mmaction/models/localizers/drn/``,
   so ``import mmaction.models`` raises ModuleNotFoundError. We register a placeholder module
   whose ``DRN`` raises a clear error when built; everything else in mmaction2 imports.
2. torch >= 2.6 loads with ``weights_only=True`` by default, and mmengine 0.10.7's checkpoints
   hold a few non-tensor objects (``HistoryBuffer`` in the message hub, numpy arrays/scalars
   /dtypes), so ``Runner.resume`` fails ("Unsupported global"). We allow exactly those globals
   in torch's weights-only unpickler (``torch.serialization.add_safe_globals``); weights-only
   loading stays on, so a pickle payload still cannot execute.
3. lvis-api 0.5.3 uses ``np.float`` (removed in numpy 1.24) in ``lvis/eval.py``, so
   ``LVISEval.run()`` raises AttributeError. We give ``lvis.eval`` a numpy namespace where
   ``float`` is the builtin float (exactly what ``np.float`` aliased), nothing else changed.
4. mmengine 0.10.7's ``init_dist('pytorch')`` calls ``torch.cuda.set_device`` and uses NCCL
   even on machines without CUDA, and its ``MMDistributedDataParallel`` is always built with
   ``device_ids=[local_rank]``; both fail on CPU. Without CUDA we use gloo, skip
   ``set_device`` and pass ``device_ids=None`` for CPU modules (``tools/dist_train.sh`` on CPU).
"""
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import types

import torch

_APPLIED = set()


# -- 1. mmaction2's missing DRN localizer ---------------------------------------------------
_DRN_MODULES = ('mmaction.models.localizers.drn', 'mmaction.models.localizers.drn.drn')


class _MissingDRN:
    """Placeholder for mmaction2's DRN localizer, whose sources PyPI's 1.2.0 lacks."""

    def __init__(self, *args, **kwargs) -> None:
        raise ImportError('mmaction2 1.2.0 as published on PyPI does not ship '
                          'mmaction/models/localizers/drn/, so the DRN localizer is unavailable '
                          '(eva_mm.compat placeholder)')


class _DRNFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Provides the DRN modules only when the real ones cannot be found."""

    def find_spec(self, fullname, path, target=None):
        if fullname not in _DRN_MODULES:
            return None
        for finder in sys.meta_path:
            if finder is self:
                continue
            try:
                spec = finder.find_spec(fullname, path, target)
            except Exception:  # noqa: BLE001
                spec = None
            if spec is not None:
                return None  # the real module exists: use it
        return importlib.machinery.ModuleSpec(fullname, self,
                                              is_package=fullname.endswith('drn'))

    def create_module(self, spec):
        return types.ModuleType(spec.name)

    def exec_module(self, module):
        module.DRN = _MissingDRN
        module.__all__ = ['DRN']
        if module.__name__.endswith('.drn') and not module.__name__.endswith('drn.drn'):
            module.__path__ = []


def fix_mmaction_drn() -> None:
    if 'drn' in _APPLIED:
        return
    sys.meta_path.append(_DRNFinder())
    _APPLIED.add('drn')


# -- 2. weights-only loading of mmengine checkpoints ----------------------------------------
def mmengine_checkpoint_safe_globals() -> list:
    """The non-tensor globals mmengine 0.10.7 checkpoints contain (message hub, numpy)."""
    import numpy as np
    from mmengine.logging.history_buffer import HistoryBuffer
    safe = [HistoryBuffer, np.ndarray, np.dtype]
    try:
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct, scalar
    safe += [_reconstruct, scalar]
    # numpy >= 1.25 pickles dtypes as instances of their numpy.dtypes classes
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        safe += [getattr(dtypes, n) for n in dir(dtypes) if n.endswith('DType')]
    return safe


def fix_weights_only_resume() -> None:
    if 'weights_only' in _APPLIED:
        return
    torch.serialization.add_safe_globals(mmengine_checkpoint_safe_globals())
    _APPLIED.add('weights_only')


# -- 3. lvis-api's np.float -------------------------------------------------------------------
class _NumpyWithFloat(types.ModuleType):
    """numpy, plus ``float`` = builtin float (the removed ``np.float`` alias)."""

    def __init__(self, np_module) -> None:
        super().__init__('numpy')
        self._np = np_module

    def __getattr__(self, name):
        if name == 'float':
            return float
        return getattr(self._np, name)


def fix_lvis_np_float() -> None:
    if 'lvis' in _APPLIED or importlib.util.find_spec('lvis') is None:
        return
    import numpy as np
    lvis_eval = importlib.import_module('lvis.eval')
    if not hasattr(np, 'float') and lvis_eval.np is np:
        lvis_eval.np = _NumpyWithFloat(np)
    _APPLIED.add('lvis')


# -- 4. distributed training on CPU ------------------------------------------------------------
def fix_cpu_distributed() -> None:
    if 'cpu_dist' in _APPLIED:
        return
    import torch.distributed as torch_dist
    import mmengine.dist.utils as dist_utils
    from mmengine.model import MMDistributedDataParallel

    orig_init_dist = dist_utils._init_dist_pytorch

    def _init_dist_pytorch(backend, init_backend='torch', **kwargs) -> None:
        if torch.cuda.is_available():
            return orig_init_dist(backend, init_backend=init_backend, **kwargs)
        if backend == 'nccl':
            backend = 'gloo'  # NCCL needs CUDA
        if init_backend == 'deepspeed':
            import deepspeed
            deepspeed.init_distributed(dist_backend=backend, **kwargs)
        else:
            torch_dist.init_process_group(backend=backend, **kwargs)

    dist_utils._init_dist_pytorch = _init_dist_pytorch

    orig_ddp_init = MMDistributedDataParallel.__init__

    def ddp_init(self, module, detect_anomalous_params: bool = False, **kwargs) -> None:
        params = list(module.parameters())
        if params and params[0].device.type == 'cpu':
            kwargs['device_ids'] = None
            kwargs.pop('output_device', None)
        orig_ddp_init(self, module, detect_anomalous_params=detect_anomalous_params, **kwargs)

    MMDistributedDataParallel.__init__ = ddp_init
    _APPLIED.add('cpu_dist')


def apply_all() -> None:
    """Apply every fix (idempotent)."""
    fix_mmaction_drn()
    fix_weights_only_resume()
    fix_lvis_np_float()
    fix_cpu_distributed()


if os.environ.get('EVA_MM_NO_COMPAT') != '1':
    apply_all()
