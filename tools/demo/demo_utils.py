"""Shared helpers of the image / video demos: input checks, the built-in tiny models, class
names from the config, and loading an eva_mm or official checkpoint into an inferencer's model
(official layouts go through ``eva_mm.models.checkpoint.convert_model_state_dict``, the same path
as ``tools/model_converters/eva_to_eva_mm.py``)."""
import importlib.util
import os.path as osp
import warnings
from contextlib import contextmanager
from typing import Dict, Iterator, List, Optional, Tuple

import torch
from mmengine.config import Config

import eva_mm  # noqa: F401  (registers eva_mm's modules and whole-model layouts)
from eva_mm.models.checkpoint import (CheckpointError, convert_model_state_dict,
                                     detect_model_layout, read_checkpoint, unwrap_checkpoint)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

# task -> (tiny demo config, the checkpoint its tools/demo_<task>.sh writes at the end)
BUILTIN: Dict[str, Tuple[str, str]] = {
    'det': ('configs/det/eva-tiny_cmrcnn_shapes.py',
            'work_dirs/eva-tiny_cmrcnn_shapes/iter_600.pth'),
    'seg': ('configs/seg/eva-tiny_mask2former_shapes.py', 'work_dirs/demo_seg/iter_200.pth'),
    'cls': ('configs/cls/eva-tiny_shapes.py', 'work_dirs/eva-tiny_shapes/epoch_10.pth'),
    'video': ('configs/video/eva-tiny_moving-shapes.py',
              'work_dirs/eva-tiny_moving-shapes/epoch_12.pth'),
}


class DemoError(Exception):
    """A user-facing problem (missing file, unknown task, config/checkpoint mismatch)."""


def check_files(paths: List[str], what: str) -> None:
    """Raise DemoError naming every path in ``paths`` that is not an existing file."""
    missing = [p for p in paths if not osp.isfile(p)]
    if missing:
        raise DemoError(f'{what} not found: {", ".join(missing)}')


def resolve_model(task: str, config: Optional[str],
                  checkpoint: Optional[str]) -> Tuple[Config, Optional[str], str]:
    """(config, checkpoint or None, a sentence saying which weights are used)."""
    if config is None:
        if checkpoint is not None:
            raise DemoError('--checkpoint needs --config (the model it belongs to)')
        cfg_path, trained = BUILTIN[task]
        cfg_path = osp.join(ROOT, cfg_path)
        trained = osp.join(ROOT, trained)
        if osp.isfile(trained):
            note = (f'built-in tiny {task} model ({osp.relpath(cfg_path, ROOT)}) with the '
                    f'weights trained by tools/demo_{task}.sh: {trained}')
            return load_config(cfg_path), trained, note
        note = (f'built-in tiny {task} model ({osp.relpath(cfg_path, ROOT)}) with RANDOM weights: '
                f'the predictions are meaningless. Train it with `bash tools/demo_{task}.sh` '
                f'(writes {osp.relpath(trained, ROOT)}) or pass --config and --checkpoint')
        return load_config(cfg_path), None, note
    cfg = load_config(config)
    check_task(cfg, task, config)
    if checkpoint is None:
        return cfg, None, (f'{config} with RANDOM weights (no --checkpoint): the predictions '
                           'are meaningless')
    check_files([checkpoint], 'checkpoint')
    return cfg, checkpoint, f'{config} with weights {checkpoint}'


SCOPES = dict(det='mmdet', seg='mmseg', cls='mmpretrain', video='mmaction')


def check_task(cfg: Config, task: str, path: str) -> None:
    """DemoError if the config is not a model of ``task`` (by its mm* scope; a classifier for
    cls, not a pre-training model)."""
    scope = cfg.get('default_scope')
    if scope is not None and scope != SCOPES[task]:
        other = {v: k for k, v in SCOPES.items()}.get(scope, scope)
        raise DemoError(f'{path} is a {other} config ({scope}), not a {task} one')
    if task == 'cls' and not str(cfg.model.get('type', '')).endswith('ImageClassifier'):
        raise DemoError(f'{path} is not an image classifier (model type '
                        f'{cfg.model.get("type")!r}); --task cls needs an ImageClassifier')


def load_config(path: str) -> Config:
    """Read a config file; DemoError if it is missing or unreadable."""
    check_files([path], 'config')
    try:
        return Config.fromfile(path)
    except Exception as e:  # noqa: BLE001 - re-raised with the file name
        raise DemoError(f'could not read config {path}: {type(e).__name__}: {e}') from e


def dataset_metainfo(cfg: Config, registry) -> dict:
    """Class names (and palette) of the config's test dataset: its ``metainfo`` over the
    dataset class's ``METAINFO``, without building the dataset (no files are read)."""
    ds = cfg.test_dataloader.dataset
    while 'dataset' in ds and 'metainfo' not in ds:  # wrappers (RepeatDataset, ...)
        ds = ds['dataset']
    meta = {}
    cls = registry.get(ds['type']) if isinstance(ds['type'], str) else ds['type']
    if cls is not None:
        meta.update(getattr(cls, 'METAINFO', {}) or {})
    meta.update(ds.get('metainfo') or {})
    return {k: list(v) if isinstance(v, (tuple, list)) else v for k, v in meta.items()}


def drop_annotation_loading(cfg: Config) -> None:
    """Remove annotation loading / label checks from the test pipeline (a user's file has no
    annotations; the inferencers only know mm*'s own ``LoadAnnotations``), and the visualizer's
    backends (the demo writes its files itself)."""
    if 'visualizer' in cfg:
        cfg.visualizer.vis_backends = []
    pipe = cfg.test_dataloader.dataset.pipeline
    cfg.test_dataloader.dataset.pipeline = [
        t for t in pipe
        if not (isinstance(t.get('type'), str)
                and ('Annotation' in t['type'] or t['type'].endswith('CheckSegLabels')))
    ]


@contextmanager
def quiet_random_init_warnings() -> Iterator[None]:
    """The inferencers warn about a missing checkpoint; the demo loads weights itself."""
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', message='.*(Checkpoint is not loaded|weights is None'
                                '|dataset_meta or class names|palette does not exist).*')
        yield


def load_weights(model: torch.nn.Module, path: str) -> str:
    """Load an eva_mm checkpoint, or an official released one (converted on the fly), into
    ``model``. Missing keys or shape mismatches raise DemoError naming the problem."""
    try:
        sd = unwrap_checkpoint(read_checkpoint(path))
        layout = detect_model_layout(sd)
        note = 'eva_mm layout'
        if layout is not None:
            sd, report = convert_model_state_dict(sd)
            note = f'converted from the official {report.layout!r} layout'
    except (CheckpointError, FileNotFoundError) as e:
        raise DemoError(str(e)) from e
    sd = {k[len('module.'):] if k.startswith('module.') else k: v for k, v in sd.items()}
    own = model.state_dict()
    missing = [k for k in own if k not in sd]
    unexpected = [k for k in sd if k not in own]
    shapes = [f'{k}: checkpoint {tuple(sd[k].shape)} vs model {tuple(own[k].shape)}'
              for k in sd if k in own and sd[k].shape != own[k].shape]
    if missing or shapes:
        raise DemoError(
            f'checkpoint {path} does not match the config ({note}): {len(missing)} of '
            f'{len(own)} model keys missing (e.g. {missing[:3]}), {len(unexpected)} unexpected '
            f'(e.g. {unexpected[:3]}), {len(shapes)} shape mismatches (e.g. {shapes[:2]}). '
            'Is it the checkpoint of this config?')
    model.load_state_dict({k: v for k, v in sd.items() if k in own})
    if unexpected:
        note += f'; {len(unexpected)} checkpoint keys unused (e.g. {unexpected[:3]})'
    return note


def data_tool(script: str):
    """A generator script of tools/data/ as a module (its constants and writers)."""
    spec = importlib.util.spec_from_file_location(script[:-3], osp.join(ROOT, 'tools/data', script))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def builtin_classes(task: str) -> List[str]:
    """Class names of a built-in tiny model's generated set, in label order: cls = mmpretrain
    ``CustomDataset``'s sorted folder names (tools/data/make_shapes_cls.py), video = the
    moving-shapes label order (tools/data/make_moving_shapes.py)."""
    if task == 'cls':
        return sorted(data_tool('make_shapes_cls.py').CLASSES)
    return list(data_tool('make_moving_shapes.py').CLASSES)
