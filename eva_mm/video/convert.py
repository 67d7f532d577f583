"""Official EVA-01 video checkpoints (``eva_video_k722/k400/k600/k700.pth``) -> the eva_mm
mmaction2 ``Recognizer3D`` (``backbone.*`` = :class:`EVAViT3D`, ``cls_head.fc_cls.*``), and
the official K722 -> K400/600/700 head initialisation through a class mapping.

The official checkpoints hold ``{'model': state_dict, ...}`` with unprefixed keys of the
official ``beit.VisionTransformer``: ``cls_token``, ``pos_embed`` (1, 1 + T*h*w, C),
``patch_embed.proj.{weight,bias}`` (Conv3d, (C, 3, 1, 14, 14)), ``blocks.i.{norm1,norm2}.*``,
``blocks.i.attn.{q_bias,v_bias,qkv.weight,proj.*}``, ``blocks.i.mlp.{fc1,fc2}.*``,
``fc_norm.*`` and ``head.*``. Every backbone key keeps its name under ``backbone.``; ``head.*``
becomes ``cls_head.fc_cls.*``. The layout is registered as ``'eva01_video'`` (see
:func:`eva_mm.models.checkpoint.register_model_layout`), so the converter CLI, ``load_from`` /
``tools/test.py`` (``eva_mm.ConvertCheckpointHook``) and ``init_cfg`` Pretrained read it.
"""
import re
from typing import Optional, Tuple, Union

import numpy as np
import torch

from ..models.checkpoint import (CheckpointError, ConversionReport, StateDict,
                                 convert_model_state_dict, detect_model_layout, read_checkpoint,
                                 unwrap_checkpoint)

# official backbone keys (per block: norm1/2, attn q/v bias, qkv, proj, mlp fc1/fc2)
_BACKBONE_KEY = re.compile(
    r'^(cls_token|pos_embed|patch_embed\.proj\.(weight|bias)|fc_norm\.(weight|bias)'
    r'|blocks\.\d+\.(norm[12]\.(weight|bias)|attn\.(q_bias|v_bias|qkv\.weight|proj\.(weight|bias))'
    r'|mlp\.fc[12]\.(weight|bias)))$')
_HEAD = {'head.weight': 'cls_head.fc_cls.weight', 'head.bias': 'cls_head.fc_cls.bias'}
_REQUIRED = ('cls_token', 'pos_embed', 'patch_embed.proj.weight', 'patch_embed.proj.bias',
             'fc_norm.weight', 'fc_norm.bias')
_BLOCK_KEYS = ('norm1.weight', 'norm1.bias', 'attn.q_bias', 'attn.v_bias', 'attn.qkv.weight',
               'attn.proj.weight', 'attn.proj.bias', 'norm2.weight', 'norm2.bias',
               'mlp.fc1.weight', 'mlp.fc1.bias', 'mlp.fc2.weight', 'mlp.fc2.bias')


def is_eva01_video(sd: StateDict) -> bool:
    """Whether ``sd`` is an official EVA-01 video model: unprefixed keys, a Conv3d patch
    kernel (5-d) and a position table."""
    w = sd.get('patch_embed.proj.weight')
    return w is not None and w.dim() == 5 and 'pos_embed' in sd


def convert_eva01_video(sd: StateDict) -> Tuple[StateDict, ConversionReport]:
    """Official video state dict -> ``Recognizer3D`` keys (``backbone.*``, ``cls_head.fc_cls.*``).

    Raises CheckpointError naming unknown keys (e.g. a final ``norm`` or relative position
    tables the eva_mm video model does not have) or missing ones.
    """
    unknown = sorted(k for k in sd if k not in _HEAD and not _BACKBONE_KEY.match(k))
    if unknown:
        raise CheckpointError(f'official EVA-01 video checkpoint: unknown key(s) {unknown[:8]}'
                              f'{" ..." if len(unknown) > 8 else ""} (expected the keys of '
                              f'beit.VisionTransformer with mean pooling)')
    depth = 1 + max((int(k.split('.')[1]) for k in sd if k.startswith('blocks.')), default=-1)
    expected = list(_REQUIRED) + [f'blocks.{i}.{k}' for i in range(depth) for k in _BLOCK_KEYS]
    missing = [k for k in expected if k not in sd]
    if missing:
        raise CheckpointError(f'official EVA-01 video checkpoint: missing key(s) {missing[:8]}'
                              f'{" ..." if len(missing) > 8 else ""}')
    report = ConversionReport(layout='eva01_video')
    out = {_HEAD.get(k, f'backbone.{k}'): v for k, v in sd.items()}
    rows = sd['pos_embed'].shape[1]
    report.notes.append(f'{depth} blocks, position table of {rows} rows (cls + space-time), '
                        f'{"a" if "head.weight" in sd else "no"} classification head')
    return out, report


def load_class_mapping(mapping: Union[str, np.ndarray, torch.Tensor, list]) -> torch.Tensor:
    """A K722 -> target class mapping as a (K_target,) int64 tensor: the K722 index of every
    target class (official ``.npy`` files, e.g. ``k722_to_k400_mapping.npy``; a list or an
    array also works)."""
    if isinstance(mapping, str):
        try:
            mapping = np.load(mapping, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise CheckpointError(f'could not read the class mapping {mapping}: {e}') from e
    m = torch.as_tensor(np.asarray(mapping))
    if m.dim() != 1 or m.numel() == 0 or m.dtype.is_floating_point or m.dtype == torch.bool:
        raise CheckpointError(f'a class mapping must be a non-empty 1-d integer array, got '
                              f'{tuple(m.shape)} {m.dtype}')
    return m.long()


def map_head_rows(weight: torch.Tensor, bias: Optional[torch.Tensor],
                  mapping: torch.Tensor) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
    """The official K722 -> K400/600/700 head init: ``w[mapping]``, ``b[mapping]``.

    Args:
        weight: (K_src, C) source head weight.
        bias: (K_src,) or None.
        mapping: (K_dst,) int64, values in [0, K_src).
    Returns:
        (K_dst, C) weight and (K_dst,) bias.
    """
    if mapping.min() < 0 or mapping.max() >= weight.shape[0]:
        raise CheckpointError(f'class mapping values must lie in [0, {weight.shape[0]}) (the '
                              f'source head has {weight.shape[0]} classes); got '
                              f'[{int(mapping.min())}, {int(mapping.max())}]')
    return weight[mapping], (bias[mapping] if bias is not None else None)


def read_video_head(path: str, num_classes: int, class_mapping=None
                    ) -> Tuple[torch.Tensor, torch.Tensor, str]:
    """The classification head of a video checkpoint (official or eva_mm ``Recognizer3D``)
    for ``num_classes`` classes: as stored when the sizes agree, else mapped through
    ``class_mapping`` (only then, as the official loader). Returns (weight, bias, note)."""
    sd = unwrap_checkpoint(read_checkpoint(path))
    if detect_model_layout(sd) is not None:  # an official whole model: to eva_mm keys
        sd, _ = convert_model_state_dict(sd)
    keys = ('cls_head.fc_cls.weight', 'cls_head.fc_cls.bias')
    missing = [k for k in keys if k not in sd]
    if missing:
        raise CheckpointError(f'{path} has no classification head: missing {missing}')
    w, b = (sd[k] for k in keys)
    if w.shape[0] == num_classes:
        return w, b, f'head ({num_classes} classes) loaded as stored'
    if class_mapping is None:
        raise CheckpointError(f'{path}: the head has {w.shape[0]} classes, the model '
                              f'{num_classes}; give class_mapping (the source index of every '
                              f'target class) to initialise it')
    mapping = load_class_mapping(class_mapping)
    if mapping.numel() != num_classes:
        raise CheckpointError(f'class mapping has {mapping.numel()} entries, the head '
                              f'{num_classes} classes')
    w, b = map_head_rows(w, b, mapping)
    return w, b, f'head rows mapped {sd[keys[0]].shape[0]} -> {num_classes} classes'


__all__ = ['convert_eva01_video', 'is_eva01_video', 'load_class_mapping', 'map_head_rows',
           'read_video_head']
