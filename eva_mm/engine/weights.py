"""Refuse to train a config without the pretrained weights its results depend on.

A config declares the weights it needs, and where to get each, in a top-level dict::

    pretrained_weights = {
        # config key (dotted path)   : where to get the file
        'model.backbone.init_cfg': 'EVA-01 MIM eva_psz14.pt: https://...',
        'load_from': 'the Objects365 detector: train configs/det/eva_cmrcnn_o365.py',
    }
    allow_random_init = False
    custom_hooks = [..., dict(type='eva_mm.CheckPretrainedWeightsHook')]

The value at a key is a weight file, an ``init_cfg`` dict (its ``checkpoint``; a list of
init_cfgs: the ``Pretrained`` one), or None. At the start of training
:class:`CheckPretrainedWeightsHook` (via :func:`check_pretrained_weights`) raises
:class:`MissingWeightsError` for every key whose file does not exist, and for every key left
at None (or absent) unless ``allow_random_init=True``, which instead logs a warning that
those parts start from random weights. ``pretrained_weights`` is a dict, so a leaf config adds
or re-describes keys of its base without repeating them.
"""
import logging
import os.path as osp
from typing import Any, List, Mapping, Optional

from mmengine.hooks import Hook
from mmengine.logging import print_log

from ..registry import HOOKS


class MissingWeightsError(FileNotFoundError):
    """Declared pretrained weights are absent; the message names each config key, its file
    and where to get it."""


def config_value(cfg: Mapping, key: str) -> Any:
    """The value at a dotted config key; None where any part of the path is absent."""
    node: Any = cfg
    for part in key.split('.'):
        try:  # an mmengine Config is no Mapping but indexes like one
            node = node[part]
        except (KeyError, TypeError, IndexError):
            return None
    return node


def weight_file(value: Any, key: str = '?') -> Optional[str]:
    """The file a weights entry points at: a path, an init_cfg dict (its ``checkpoint``), a
    list of init_cfgs (the ``Pretrained`` one's), or None."""
    if isinstance(value, (list, tuple)):
        value = next((v for v in value if isinstance(v, Mapping)
                      and v.get('type') == 'Pretrained'), None)
    if isinstance(value, Mapping):
        value = value.get('checkpoint')
    if value is None or isinstance(value, str):
        return value
    raise TypeError(f'pretrained_weights: {key} holds {value!r}, not a file path, an init_cfg '
                    f'or None')


def check_pretrained_weights(cfg: Mapping, logger: Any = 'current') -> List[str]:
    """Check the weight files ``cfg['pretrained_weights']`` declares.

    Args:
        cfg: the whole config (``runner.cfg``); reads ``pretrained_weights`` (dict: dotted
            config key -> where to get the file) and ``allow_random_init`` (bool).
        logger: where the start-up report and warnings go.
    Returns:
        the keys that start from random weights (None, allowed by ``allow_random_init``).
    Raises:
        MissingWeightsError: a declared file does not exist, or a key is None without
            ``allow_random_init=True``.
    """
    declared = cfg.get('pretrained_weights') or {}
    if not isinstance(declared, Mapping):
        raise TypeError(f'pretrained_weights must be a dict {{config key: where to get the '
                        f'file}}, got {type(declared).__name__}')
    allow = cfg.get('allow_random_init', False)
    if not isinstance(allow, bool):
        raise TypeError(f'allow_random_init must be True or False, got {allow!r}')
    missing, unset = {}, []
    for key in declared:
        path = weight_file(config_value(cfg, key), key)
        if path is None:
            unset.append(key)
        elif not osp.isfile(path):
            missing[key] = path
        else:
            print_log(f'pretrained weights: {key} <- {path}', logger=logger)
    refused = list(missing) + ([] if allow else unset)
    if refused:
        name = getattr(cfg, 'filename', None) or 'this config'
        lines = [f'{name} needs pretrained weights that are not there:']
        lines += [f'  {k} = {p!r}: file not found. Get it: {declared[k]}'
                  for k, p in missing.items()]
        lines += [f'  {k} is not set (None): it would start from random weights. Get the '
                  f'weights: {declared[k]}' for k in refused if k not in missing]
        lines.append('Put the file(s) there, or point the key(s) at them (--cfg-options '
                     'KEY=PATH). To train from random weights instead (results will not be '
                     "the paper's), say so explicitly: --cfg-options "
                     + ' '.join(f'{k}=None' for k in refused) + ' allow_random_init=True')
        raise MissingWeightsError('\n'.join(lines))
    for key in unset:
        print_log(f'allow_random_init=True: {key} is not set, so it starts from RANDOM '
                  f'weights (for real runs get them: {declared[key]})', logger=logger,
                  level=logging.WARNING)
    if allow and not declared:
        print_log('allow_random_init=True: this config trains from random weights',
                  logger=logger, level=logging.WARNING)
    return unset


@HOOKS.register_module()
class CheckPretrainedWeightsHook(Hook):
    """Run :func:`check_pretrained_weights` on ``runner.cfg`` when training starts.

    ``before_run`` of mmengine's ``Runner`` comes before the weights are loaded
    (``init_weights``, ``load_from``), so nothing is read or trained first. (mmengine's
    ``FlexibleRunner`` loads them before ``before_run``: there a missing file already fails
    while loading; the check still stops a run with weights left at None.) Testing and
    validation runs are not checked: they load the evaluated checkpoint instead."""
    priority = 'VERY_HIGH'

    def before_run(self, runner) -> None:
        from mmengine.runner import BaseLoop
        if isinstance(getattr(runner, '_train_loop', None), BaseLoop):  # built by train() only
            check_pretrained_weights(runner.cfg, logger=runner.logger)
