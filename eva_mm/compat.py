"""Fixes for upstream breakages in eva_mm's pinned stack, applied on ``import eva_mm``.

Never edit installed packages and never vendor them: each fix below patches one named
problem at run time, is idempotent, and has a test in ``tests/test_compat.py``.

1. mmaction2 1.2.0 (PyPI wheel and sdist) ships without ``mmaction/models/localizers/drn/``,
   so ``import mmaction.models`` raises ModuleNotFoundError. A meta-path finder supplies a
   placeholder module (only when the real one is absent) whose ``DRN`` raises a clear error
   when built; everything else in mmaction2 imports. Fix 6 uses the same mechanism.
2. torch >= 2.6 loads with ``weights_only=True`` by default, and mmengine 0.10.7's checkpoints
   hold a few non-tensor objects (``HistoryBuffer`` in the message hub, numpy arrays/scalars
   /dtypes), so ``Runner.resume`` fails ("Unsupported global"). We allow exactly those globals
   in torch's weights-only unpickler (``torch.serialization.add_safe_globals``) and stop
   ``HistoryBuffer`` from pickling its default statistics methods (upstream stores them as
   ``getattr(HistoryBuffer, 'min')``, which weights-only loading refuses; ``__setstate__``
   restores them). Weights-only loading stays on, so a pickle payload still cannot execute.
   Checkpoints written by mmengine *without* eva_mm imported still hold that ``getattr`` and
   are refused by weights-only loading.
3. lvis-api 0.5.3 uses ``np.float`` (removed in numpy 1.24) in ``lvis/eval.py``, so
   ``LVISEval.run()`` raises AttributeError. We give ``lvis.eval`` a numpy namespace where
   ``float`` is the builtin float (exactly what ``np.float`` aliased), nothing else changed.
4. mmengine 0.10.7's ``init_dist('pytorch')`` calls ``torch.cuda.set_device`` and uses NCCL
   even on machines without CUDA, and its ``MMDistributedDataParallel`` is always built with
   ``device_ids=[local_rank]``; both fail on CPU. Without CUDA we use gloo, skip
   ``set_device`` and pass ``device_ids=None`` for CPU modules (``tools/dist_train.sh`` on CPU).
5. mmengine 0.10.7's ``is_installed`` / ``get_installed_path`` / ``package2module`` import
   ``pkg_resources``, which setuptools >= 81 removed (torch 2.14 requires setuptools >= 77, so a
   current venv has none); then ``mmdet::...`` base configs fail to resolve. We reimplement
   the three with ``importlib.metadata`` and rebind them wherever mmengine imported them.
6. deepspeed 0.19 removed ``deepspeed.runtime.fp16.onebit``, which mmengine 0.10.7's
   ``DeepSpeedStrategy`` imports unconditionally, so no DeepSpeed run can be built. Placeholder
   module as in fix 1: ``OnebitAdam``/``OnebitLamb``/``ZeroOneAdam`` raise a clear error if used.
7. mmcv 2.1.0's compiled CPU kernels of ``roi_align``, ``roi_align_rotated``, ``soft_nms`` and
   ``modulated_deform_conv2d`` read their tensors as dense row-major memory without checking
   the strides, so a non-contiguous input (a permuted LayerNorm2d output, ``dets[:, :4]``)
   gives silently wrong results: RoI features of a ViTDet pyramid are garbage and the RoI
   heads cannot learn. We make the tensor arguments of those ops' autograd functions
   contiguous before the kernel call (a no-op for contiguous tensors).
8. mmseg 1.2.2's ``EncoderDecoder.slide_inference`` sets each window's ``img_shape`` but keeps
   the whole padded image's ``pad_shape`` in the meta it passes down, and mmseg's
   ``Mask2FormerHead.predict`` upsamples to ``pad_shape`` when present, so every window's
   logits get the whole image's size and adding them fails ("size of tensor a (1216) must
   match ... (1536)") whenever the padded image is larger than the window: no Mask2Former
   model can be tested with ``mode='slide'`` (open upstream PR open-mmlab/mmsegmentation#3752).
   The windows' metas no longer carry ``pad_shape``; the heads then use the window's
   ``img_shape`` (what mmseg's other decode heads already do in slide mode).
9. mmengine 0.10.7's ``mmengine._strategy.deepspeed`` runs ``import deepspeed`` when
   ``mmengine.runner`` is imported, i.e. on every mm* import: several seconds and DeepSpeed's
   accelerator warning on every command, DeepSpeed used or not. That module now gets a
   stand-in ``deepspeed`` that imports the real package on first use (a DeepSpeed strategy
   being built); until then ``deepspeed`` is not in ``sys.modules``. Fixes 4 and 6 work the
   same when DeepSpeed is imported later.
10. mmengine 0.10.7 writes checkpoints in place (``LocalBackend.put``: ``open(path, 'wb')``),
   so a run killed during a save leaves a truncated ``iter_N.pth``, and ``CheckpointHook``
   writes ``last_checkpoint`` (the file ``--resume`` reads) the same way. Local ``put`` /
   ``put_text`` now write a temporary file in the same folder, flush and fsync it, and rename
   it over the target (atomic on POSIX): a checkpoint file is complete or absent, and
   ``last_checkpoint`` (written after its checkpoint) always names a complete one.
11. mmengine 0.10.7's ``CheckpointHook`` with ``max_keep_ckpts`` deletes the outdated checkpoint
   (a file, or a DeepSpeed checkpoint folder) *before* it writes the new one and before it
   rewrites ``last_checkpoint``. A run killed during that save (a DeepSpeed save is many
   ``torch.save`` calls on several ranks) leaves ``last_checkpoint`` naming the checkpoint just
   deleted, and ``--resume`` fails, though a complete checkpoint existed a moment before.
   The outdated checkpoints are now deleted after the new one and ``last_checkpoint`` are
   written (a kill between the two leaves one checkpoint too many on disk, nothing worse).
12. mmcv 2.1.0's ``LoadImageFromFile`` re-raises a decoding error as it comes, so an empty or
   otherwise undecodable image file stops training with e.g. OpenCV's ``(-215:Assertion
   failed) !buf.empty() in function 'imdecode_'``, naming no file (a truncated JPEG that
   decodes to ``None`` does get ``failed to load image: <file>``). Such errors are now raised
   again as ``ImageReadError: cannot read image <file>: <the original error>``, chained.
"""
import functools
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys
import types

import torch

_APPLIED = set()


# -- 1 and 6. modules missing from PyPI releases: placeholders --------------------------------
def _missing_class(name: str, why: str) -> type:
    """A class that raises a clear ImportError when instantiated."""

    def __init__(self, *args, **kwargs):
        raise ImportError(f'{name} is unavailable: {why} (eva_mm.compat placeholder)')

    return type(name, (), {'__init__': __init__, '__doc__': f'Placeholder: {why}.'})


# module name -> (is_package, class names it must provide, why it is missing)
_PLACEHOLDERS = {
    'mmaction.models.localizers.drn':
    (True, ('DRN', ), 'mmaction2 1.2.0 as published on PyPI does not ship '
     'mmaction/models/localizers/drn/'),
    'mmaction.models.localizers.drn.drn':
    (False, ('DRN', ), 'mmaction2 1.2.0 as published on PyPI does not ship '
     'mmaction/models/localizers/drn/'),
    'deepspeed.runtime.fp16.onebit':
    (False, ('OnebitAdam', 'OnebitLamb', 'ZeroOneAdam'),
     'deepspeed 0.19 removed the 1-bit optimizers that mmengine 0.10.7 imports'),
}


class _PlaceholderFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Provides the modules in ``_PLACEHOLDERS`` only when the real ones cannot be found."""

    def find_spec(self, fullname, path, target=None):
        if fullname not in _PLACEHOLDERS:
            return None
        for finder in sys.meta_path:
            if isinstance(finder, _PlaceholderFinder):
                continue
            try:
                spec = finder.find_spec(fullname, path, target)
            except Exception:  # noqa: BLE001
                spec = None
            if spec is not None:
                return None  # the real module exists: use it
        return importlib.machinery.ModuleSpec(fullname, self,
                                              is_package=_PLACEHOLDERS[fullname][0])

    def create_module(self, spec):
        return types.ModuleType(spec.name)

    def exec_module(self, module):
        is_pkg, names, why = _PLACEHOLDERS[module.__name__]
        for n in names:
            setattr(module, n, _missing_class(n, why))
        module.__all__ = list(names)
        if is_pkg:
            module.__path__ = []


def fix_missing_modules() -> None:
    if 'placeholders' in _APPLIED:
        return
    sys.meta_path.append(_PlaceholderFinder())
    _APPLIED.add('placeholders')


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


_DEFAULT_STATISTICS = ('min', 'max', 'current', 'mean')


def _history_buffer_getstate(self) -> dict:
    """HistoryBuffer state without the default statistics methods: upstream pickles them as
    ``getattr(HistoryBuffer, 'min')``, a call weights-only loading rightly refuses.
    ``__setstate__`` restores the defaults anyway."""
    state = dict(self.__dict__)
    state.pop('statistics_methods', None)
    custom = {k: v for k, v in self._statistics_methods.items() if k not in _DEFAULT_STATISTICS}
    if custom:
        state['statistics_methods'] = custom
    return state


def fix_weights_only_resume() -> None:
    if 'weights_only' in _APPLIED:
        return
    from mmengine.logging.history_buffer import HistoryBuffer
    torch.serialization.add_safe_globals(mmengine_checkpoint_safe_globals())
    HistoryBuffer.__getstate__ = _history_buffer_getstate
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


# -- 5. mmengine's pkg_resources helpers -------------------------------------------------------
def _is_installed(package: str) -> bool:
    """Whether ``package`` (a distribution or module name) is installed."""
    import importlib.metadata as md
    try:
        md.distribution(package)
        return True
    except md.PackageNotFoundError:
        return importlib.util.find_spec(package) is not None


def _package2module(package: str) -> str:
    """The top-level module of an installed distribution (mmsegmentation -> mmseg)."""
    import importlib.metadata as md
    dist = md.distribution(package)
    top = (dist.read_text('top_level.txt') or '').split()
    if top:
        return top[0]
    for f in dist.files or []:
        parts = f.parts
        if len(parts) == 2 and parts[1] == '__init__.py':
            return parts[0]
    raise ValueError(f'can not infer the module name of {package}')


def _get_installed_path(package: str) -> str:
    """Directory of an installed package (by distribution or module name)."""
    import importlib.metadata as md
    try:
        dist = md.distribution(package)
    except md.PackageNotFoundError as e:
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.origin is not None:
            return os.path.dirname(spec.origin)
        raise RuntimeError(f'{package} is not installed') from e
    location = str(dist.locate_file(''))
    candidate = os.path.join(location, package)
    if os.path.exists(candidate):
        return candidate
    module = _package2module(package)
    spec = importlib.util.find_spec(module)
    if spec is not None and spec.origin is not None:
        return os.path.dirname(spec.origin)
    return os.path.join(location, module)


def fix_mmengine_pkg_resources() -> None:
    if 'pkg_resources' in _APPLIED:
        return
    import mmengine.config  # noqa: F401  (load the modules that import the helpers)
    import mmengine.utils.package_utils as pu
    new = {'is_installed': _is_installed, 'get_installed_path': _get_installed_path,
           'package2module': _package2module}
    old = {name: getattr(pu, name) for name in new}
    for mod in list(sys.modules.values()):
        if mod is None or not getattr(mod, '__name__', '').startswith('mmengine'):
            continue
        for name, fn in new.items():
            if getattr(mod, name, None) is old[name]:
                setattr(mod, name, fn)
    _APPLIED.add('pkg_resources')


# -- 7. mmcv ops that ignore tensor strides ----------------------------------------------------
# (module, autograd Function) of the mmcv.ops whose kernels assume contiguous inputs.
STRIDE_BLIND_OPS = (('mmcv.ops.roi_align', 'RoIAlignFunction'),
                    ('mmcv.ops.roi_align_rotated', 'RoIAlignRotatedFunction'),
                    ('mmcv.ops.nms', 'SoftNMSop'),
                    ('mmcv.ops.modulated_deform_conv', 'ModulatedDeformConv2dFunction'))


def _contiguous_forward(forward):
    @functools.wraps(forward)
    def wrapped(ctx, *args, **kwargs):
        args = tuple(a.contiguous() if isinstance(a, torch.Tensor) else a for a in args)
        return forward(ctx, *args, **kwargs)
    return wrapped


def fix_mmcv_strides() -> None:
    if 'mmcv_strides' in _APPLIED:
        return
    for module, name in STRIDE_BLIND_OPS:
        fn = getattr(importlib.import_module(module), name)
        fn.forward = staticmethod(_contiguous_forward(fn.forward))
    _APPLIED.add('mmcv_strides')


# -- 8. mmseg slide inference with Mask2Former heads -------------------------------------------
def fix_mmseg_slide_pad_shape() -> None:
    if 'slide_pad_shape' in _APPLIED or importlib.util.find_spec('mmseg') is None:
        return
    from mmseg.models.segmentors import EncoderDecoder
    orig = EncoderDecoder.slide_inference

    @functools.wraps(orig)
    def slide_inference(self, inputs: torch.Tensor, batch_img_metas: list) -> torch.Tensor:
        """mmseg's sliding-window inference; the windows' metas carry no ``pad_shape`` of
        the whole (N, C, H, W) input, so heads size each window's logits by its
        ``img_shape``. Returns (N, num_classes, H, W) logits."""
        metas = [{k: v for k, v in m.items() if k != 'pad_shape'} for m in batch_img_metas]
        return orig(self, inputs, metas)

    EncoderDecoder.slide_inference = slide_inference
    _APPLIED.add('slide_pad_shape')


# -- 9. deepspeed imported on first use ----------------------------------------------------------
# module that imports a heavy package at its top -> that package
DEFERRED_IMPORTS = {'mmengine._strategy.deepspeed': 'deepspeed'}


class _LazyModule(types.ModuleType):
    """Stands in for a module: the first attribute read imports the real one (then read from
    ``sys.modules`` as usual)."""

    def __getattr__(self, name: str):
        return getattr(importlib.import_module(self.__name__), name)


class _DeferringLoader(importlib.abc.Loader):
    """Executes a module with ``import <heavy>`` failing, then gives it a lazy ``<heavy>``."""

    def __init__(self, loader: importlib.abc.Loader, heavy: str) -> None:
        self.loader, self.heavy = loader, heavy

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        sys.modules[self.heavy] = None  # `import heavy` raises ImportError meanwhile
        try:
            self.loader.exec_module(module)
        finally:
            if self.heavy in sys.modules and sys.modules[self.heavy] is None:
                del sys.modules[self.heavy]
        if getattr(module, self.heavy, None) is None:
            setattr(module, self.heavy, _LazyModule(self.heavy))

    def __getattr__(self, name: str):  # get_source, get_filename ... (tracebacks, inspect)
        return getattr(self.loader, name)


class _DeferringFinder(importlib.abc.MetaPathFinder):
    """Finds the modules in ``DEFERRED_IMPORTS`` as usual, with a :class:`_DeferringLoader`
    (only while the heavy package is installed and not yet imported)."""

    def find_spec(self, fullname, path, target=None):
        heavy = DEFERRED_IMPORTS.get(fullname)
        if heavy is None or heavy in sys.modules or importlib.util.find_spec(heavy) is None:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is None or spec.loader is None:
            return None
        spec.loader = _DeferringLoader(spec.loader, heavy)
        return spec


def fix_defer_heavy_imports() -> None:
    if 'defer_imports' in _APPLIED:
        return
    sys.meta_path.insert(0, _DeferringFinder())
    _APPLIED.add('defer_imports')


# -- 10. atomic local writes (checkpoints, last_checkpoint) -------------------------------------
def atomic_write(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file + ``os.replace`` (fsync'ed)."""
    import tempfile
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f'.{os.path.basename(path)}.', suffix='.tmp')
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def fix_atomic_local_writes() -> None:
    if 'atomic_writes' in _APPLIED:
        return
    from mmengine.fileio.backends import LocalBackend
    from mmengine.hooks import CheckpointHook

    def put(self, obj: bytes, filepath) -> None:
        atomic_write(str(filepath), obj)

    def put_text(self, obj: str, filepath, encoding: str = 'utf-8') -> None:
        atomic_write(str(filepath), obj.encode(encoding))

    LocalBackend.put, LocalBackend.put_text = put, put_text
    original = CheckpointHook._save_checkpoint_with_step

    @functools.wraps(original)
    def save_with_step(self, runner, step, meta):
        # the hook writes last_checkpoint with a plain open(); rewrite it atomically
        real_open = open

        def atomic_last_checkpoint_open(file, mode='r', *args, **kwargs):
            if mode == 'w' and os.path.basename(str(file)) == 'last_checkpoint':
                return _AtomicTextFile(str(file))
            return real_open(file, mode, *args, **kwargs)

        import mmengine.hooks.checkpoint_hook as module
        module.open = atomic_last_checkpoint_open
        try:
            return original(self, runner, step, meta)
        finally:
            del module.open

    CheckpointHook._save_checkpoint_with_step = save_with_step
    _APPLIED.add('atomic_writes')


class _AtomicTextFile:
    """A text 'file' collected in memory and written atomically on close."""

    def __init__(self, path: str) -> None:
        self.path, self.parts = path, []

    def write(self, text: str) -> int:
        self.parts.append(text)
        return len(text)

    def __enter__(self) -> '_AtomicTextFile':
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if exc_type is None:
            atomic_write(self.path, ''.join(self.parts).encode())


# -- 11. outdated checkpoints deleted after the new one is saved -----------------------------------
def _deferring(backend, name: str, deferred: list) -> None:
    """Shadow ``backend.<name>`` (remove / rmtree) with one that queues the call in
    ``deferred`` instead of deleting."""
    real = getattr(backend, name)
    setattr(backend, name, lambda path: deferred.append((real, path)))


def fix_delete_old_checkpoints_last() -> None:
    if 'delete_old_last' in _APPLIED:
        return
    from mmengine.hooks import CheckpointHook
    original = CheckpointHook._save_checkpoint_with_step

    @functools.wraps(original)
    def save_then_delete(self, runner, step, meta):
        backend = getattr(self, 'file_backend', None)
        if backend is None or self.max_keep_ckpts <= 0:
            return original(self, runner, step, meta)
        deferred: list = []
        names = [n for n in ('remove', 'rmtree') if hasattr(backend, n)]
        for name in names:
            _deferring(backend, name, deferred)
        try:
            result = original(self, runner, step, meta)
        finally:  # drop the instance attributes: the backend's own methods show again
            for name in names:
                backend.__dict__.pop(name, None)
        for delete, path in deferred:  # only if the save succeeded
            delete(path)
        return result

    CheckpointHook._save_checkpoint_with_step = save_then_delete
    _APPLIED.add('delete_old_last')


# -- 12. image loading errors name the file -------------------------------------------------------
class ImageReadError(OSError):
    """An image file that exists but cannot be read or decoded (named in the message)."""


def fix_image_errors_name_the_file() -> None:
    if 'image_errors' in _APPLIED:
        return
    from mmcv.transforms import LoadImageFromFile
    original = LoadImageFromFile.transform

    @functools.wraps(original)
    def transform(self, results: dict):
        try:
            return original(self, results)
        except Exception as e:  # noqa: BLE001 - re-raised with the file's name
            filename = results.get('img_path')
            if filename is None or str(filename) in str(e):
                raise
            raise ImageReadError(f'cannot read image {filename}: {type(e).__name__}: '
                                 f'{str(e).strip()}') from e

    LoadImageFromFile.transform = transform
    _APPLIED.add('image_errors')


def apply_all() -> None:
    """Apply every fix (idempotent)."""
    fix_defer_heavy_imports()  # first: before anything imports mmengine.runner
    fix_missing_modules()
    fix_weights_only_resume()
    fix_lvis_np_float()
    fix_cpu_distributed()
    fix_mmengine_pkg_resources()
    fix_mmcv_strides()
    fix_mmseg_slide_pad_shape()
    fix_atomic_local_writes()
    fix_image_errors_name_the_file()
    fix_delete_old_checkpoints_last()  # after 10: wraps the hook method fix 10 wraps


if os.environ.get('EVA_MM_NO_COMPAT') != '1':
    apply_all()
