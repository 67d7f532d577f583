"""The one EVA checkpoint-conversion path.

Used by ``tools/model_converters/eva_to_eva_mm.py`` and by ``EVAViT(init_cfg=dict(
type='Pretrained', checkpoint=...))``. Recognises, by their keys, the layouts in SPEC §4:

=============  ============================================================================
layout         recognised by
=============  ============================================================================
``eva_mm``     keys under ``backbone.`` (a converted file) or already EVAViT keys
``mim``        official EVA-01 MIM (``{'model': ...}``; ``mask_token``, ``lm_head.*``)
``finetuned``  official fine-tuned classification (``fc_norm.*``, ``head.*``, ``model_ema``)
``open_clip``  EVA-CLIP / open_clip vision tower under ``visual.trunk.`` or ``visual.``
``eva02``      EVA-02 (official or timm): ``attn.q_proj``/``k_proj``/``v_proj``, SwiGLU
``timm``       timm ``Eva`` state dicts (same block names as the official ones)
``detectron2`` the ViT (``backbone.net.``) of an official EVA-01 detector
=============  ============================================================================

Whole task models (a detector, a video classifier, a segmenter) are converted by the layouts
their task adapters register (:func:`register_model_layout`); :func:`convert_model_state_dict`
is the one entry point for the CLI and for ``load_from`` (``ConvertCheckpointHook``).

Loading never unpickles code (``torch.load(weights_only=True)``); a shape mismatch other
than the position grid or the patch kernel (which are resized) is an error naming the key.
"""
import os
import os.path as osp
import pickle
import re
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

import torch
from mmengine.logging import print_log
from torch import nn

from ..layers import grid_of, resize_patch_kernel, resize_pos_embed

StateDict = Dict[str, torch.Tensor]

# heads and buffers an EVAViT never holds: dropped by the conversion, with the reason
_DROPPED = [
    (re.compile(r'^lm_head\.'), 'MIM prediction head'),
    (re.compile(r'^head\.'), 'classification head'),
    # top-level ``rope.*`` and, in EVA02-CLIP towers, the shared module again under every block
    # (``blocks.N.attn.rope.freqs_cos/freqs_sin``): derived buffers
    (re.compile(r'(^|\.)rope\.'), 'RoPE tables are computed, not loaded'),
    (re.compile(r'\.attn\.k_bias$'), 'k bias is fixed at zero'),
    (re.compile(r'^logit_scale$'), 'CLIP temperature'),
]
# keys an EVAViT holds only in some configurations; not loading them is expected
_OPTIONAL = ('cls_token', 'mask_token', 'norm.weight', 'norm.bias', 'fc_norm.weight',
             'fc_norm.bias')


class CheckpointError(ValueError):
    """A checkpoint that cannot be read or converted; the message names the problem."""


@dataclass
class ConversionReport:
    """What the conversion did: the detected layout and the keys it dropped (with reasons)."""
    layout: str
    dropped: Dict[str, str] = field(default_factory=dict)
    notes: List[str] = field(default_factory=list)


def read_checkpoint(path: str) -> dict:
    """Read a checkpoint file without executing pickled code.

    ``.safetensors`` files are read with safetensors; anything else with
    ``torch.load(weights_only=True)``. Raises FileNotFoundError or CheckpointError.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint file not found: {path}')
    if path.endswith('.safetensors'):
        from safetensors.torch import load_file
        try:
            return load_file(path)
        except Exception as e:  # noqa: BLE001 - re-raised with the file name
            raise CheckpointError(f'could not read safetensors checkpoint {path}: {e}') from e
    try:
        return torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as e:
        raise CheckpointError(
            f'refusing to load {path}: it holds objects other than tensors and plain data, '
            f'which weights-only loading does not execute ({str(e).splitlines()[0]})') from e
    except Exception as e:  # noqa: BLE001 - corrupt / truncated / not a checkpoint
        raise CheckpointError(f'could not read checkpoint {path}: {type(e).__name__}: {e}') from e


def unwrap_checkpoint(obj: dict, use_ema: bool = False) -> StateDict:
    """The state dict inside a checkpoint object (``state_dict`` / ``model`` / ``module`` /
    ``model_ema`` containers, as written by mmengine, the official EVA code and DeepSpeed)."""
    if not isinstance(obj, dict):
        raise CheckpointError(f'a checkpoint must be a dict, got {type(obj).__name__}')
    if use_ema:
        if 'model_ema' not in obj:
            raise CheckpointError(f'use_ema=True but the checkpoint has no model_ema '
                                  f'(top-level keys: {sorted(obj)[:10]})')
        obj = obj['model_ema']
    for key in ('state_dict', 'model', 'module'):
        if key in obj and isinstance(obj[key], dict):
            obj = obj[key]
            break
    if not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        bad = [k for k, v in obj.items() if not isinstance(v, torch.Tensor)][:5]
        raise CheckpointError(f'no state dict of tensors found in the checkpoint '
                              f'(non-tensor entries: {bad})')
    return dict(obj)


def detect_layout(sd: StateDict) -> Tuple[str, str]:
    """(layout name, key prefix of the vision tower) of a state dict; CheckpointError if none."""
    keys = list(sd)
    if any(k.startswith('visual.trunk.') for k in keys):
        return 'open_clip', 'visual.trunk.'
    if any(k.startswith('visual.') for k in keys):
        return 'open_clip', 'visual.'
    for prefix in ('backbone.net.', 'backbone.', 'module.', ''):
        if f'{prefix}patch_embed.proj.weight' not in sd:
            continue
        if prefix == 'backbone.net.':  # an official detectron2 detector: its ViT
            return 'detectron2', prefix
        if prefix == 'backbone.':
            return 'eva_mm', prefix
        if f'{prefix}blocks.0.attn.q_proj.weight' in sd or any('mlp.w1' in k or 'mlp.w12' in k
                                                               or 'mlp.fc1_g' in k for k in keys):
            return 'eva02', prefix
        if f'{prefix}lm_head.weight' in sd or f'{prefix}mask_token' in sd:
            return 'mim', prefix
        if f'{prefix}fc_norm.weight' in sd or f'{prefix}head.weight' in sd:
            return 'finetuned', prefix
        return 'timm', prefix
    sample = keys[:8]
    raise CheckpointError(f'unrecognised checkpoint layout: no patch_embed.proj.weight under '
                          f'any known prefix (first keys: {sample})')


_RENAMES = [  # official EVA-02 names -> EVAViT (= timm) names
    ('mlp.ffn_ln.', 'mlp.norm.'),
    ('attn.inner_attn_ln.', 'attn.norm.'),
    ('mlp.w1.', 'mlp.fc1_g.'),
    ('mlp.w2.', 'mlp.fc1_x.'),
    ('mlp.w3.', 'mlp.fc2.'),
    ('mlp.w12.', 'mlp.fc1.'),
]


def convert_state_dict(sd: StateDict) -> Tuple[StateDict, ConversionReport]:
    """Turn any supported layout into EVAViT keys (no resizing; see :func:`adapt_geometry`)."""
    layout, prefix = detect_layout(sd)
    report = ConversionReport(layout=layout)
    out: StateDict = {}
    for k, v in sd.items():
        if not k.startswith(prefix):
            report.dropped[k] = 'outside the vision tower'
            continue
        k = k[len(prefix):]
        reason = next((r for pat, r in _DROPPED if pat.search(k)), None)
        if reason is not None:
            report.dropped[prefix + k] = reason
            continue
        for a, b in _RENAMES:
            k = k.replace(a, b)
        out[k] = v
    _fuse_qkv(out, report)
    _split_packed_glu(out, report)
    return out, report


def _fuse_qkv(sd: StateDict, report: ConversionReport) -> None:
    """Separate q/k/v projections (EVA-02) -> one qkv matrix plus q_bias / v_bias."""
    for qk in [k for k in sd if k.endswith('.attn.q_proj.weight')]:
        base = qk[:-len('q_proj.weight')]
        try:
            w = [sd.pop(f'{base}{n}_proj.weight') for n in 'qkv']
        except KeyError as e:
            raise CheckpointError(f'{base}q_proj.weight present but {e.args[0]} missing') from e
        sd[f'{base}qkv.weight'] = torch.cat(w, dim=0)
        kb = sd.pop(f'{base}k_proj.bias', None)
        if kb is not None and kb.abs().max() > 0:
            raise CheckpointError(f'{base}k_proj.bias is non-zero; EVAViT has no k bias')
        for n in 'qv':
            b = sd.pop(f'{base}{n}_proj.bias', None)
            if b is not None:
                if f'{base}{n}_bias' in sd:
                    raise CheckpointError(f'both {base}{n}_proj.bias and {base}{n}_bias present')
                sd[f'{base}{n}_bias'] = b
    if any(k.endswith('.attn.qkv.weight') for k in sd) and report.layout == 'eva02':
        report.notes.append('fused q/k/v projections into qkv')


def _split_packed_glu(sd: StateDict, report: ConversionReport) -> None:
    """Packed SwiGLU ``mlp.fc1`` (2H, C) (timm GluMlp / official ``w12``) -> fc1_g, fc1_x."""
    for k in [k for k in sd if k.endswith('.mlp.fc1.weight')]:
        base = k[:-len('fc1.weight')]
        fc2 = sd.get(f'{base}fc2.weight')
        if fc2 is None or sd[k].shape[0] != 2 * fc2.shape[1]:
            continue
        for suffix in ('weight', 'bias'):
            t = sd.pop(f'{base}fc1.{suffix}', None)
            if t is not None:
                g, x = t.chunk(2, dim=0)
                sd[f'{base}fc1_g.{suffix}'], sd[f'{base}fc1_x.{suffix}'] = g, x
        if 'split packed SwiGLU fc1' not in report.notes:
            report.notes.append('split packed SwiGLU fc1')


def adapt_geometry(sd: StateDict, patch_size: Optional[int] = None,
                   grid: Optional[Tuple[int, int]] = None,
                   num_prefix_tokens: int = 1) -> List[str]:
    """Resize the patch kernel to ``patch_size`` and the position grid to ``grid`` in place
    (bicubic, as the official 14 -> 16 detector conversion). Returns what was changed."""
    notes = []
    w = sd.get('patch_embed.proj.weight')
    if patch_size is not None and w is not None and w.shape[-1] != patch_size:
        sd['patch_embed.proj.weight'] = resize_patch_kernel(w, (patch_size, patch_size))
        notes.append(f'patch kernel {tuple(w.shape[-2:])} -> {(patch_size, patch_size)}')
    pos = sd.get('pos_embed')
    if grid is not None and pos is not None:
        src = grid_of(pos.shape[1] - num_prefix_tokens)
        if src != tuple(grid):
            sd['pos_embed'] = resize_pos_embed(pos, src, grid, num_prefix_tokens)
            notes.append(f'position grid {src} -> {tuple(grid)}')
    return notes


def load_state_dict_into(model: nn.Module, sd: StateDict, strict: bool = False,
                         logger=None) -> Tuple[List[str], List[str]]:
    """Load EVAViT keys into ``model`` (an EVAViT), adapting geometry to the model.

    Shape mismatches other than position grid / patch kernel raise CheckpointError naming the
    key and both shapes. Missing and unexpected keys are logged (warning level), or raise when
    ``strict``. Returns (missing, unexpected).
    """
    sd = dict(sd)
    own = model.state_dict()
    if 'patch_embed.proj.weight' in own and 'patch_embed.proj.weight' in sd:
        sd = model.adapt_checkpoint(sd) if hasattr(model, 'adapt_checkpoint') else sd
    if 'fc_norm.weight' in own and 'norm.weight' not in own and 'fc_norm.weight' not in sd \
            and 'norm.weight' in sd:
        sd['fc_norm.weight'], sd['fc_norm.bias'] = sd.pop('norm.weight'), sd.pop('norm.bias')
        print_log('using the checkpoint final norm as fc_norm', logger=logger)
    for k, v in sd.items():
        if k in own and own[k].shape != v.shape:
            raise CheckpointError(f'shape mismatch for {k}: checkpoint {tuple(v.shape)}, '
                                  f'model {tuple(own[k].shape)}')
    missing = [k for k in own if k not in sd]
    unexpected = [k for k in sd if k not in own]
    quiet_unexp = [k for k in unexpected if k in _OPTIONAL]
    loud_unexp = [k for k in unexpected if k not in _OPTIONAL]
    if strict and (missing or loud_unexp):
        raise CheckpointError(f'strict loading failed: missing keys {missing}, '
                              f'unexpected keys {loud_unexp}')
    model.load_state_dict({k: v for k, v in sd.items() if k in own}, strict=False)
    if missing:
        print_log(f'EVA checkpoint: missing keys (left at init): {missing}', logger=logger,
                  level=30)
    if loud_unexp:
        print_log(f'EVA checkpoint: unexpected keys (ignored): {loud_unexp}', logger=logger,
                  level=30)
    if quiet_unexp:
        print_log(f'EVA checkpoint: not used by this configuration: {quiet_unexp}',
                  logger=logger)
    return missing, unexpected


def load_pretrained(model: nn.Module, path: str, prefix: Optional[str] = None,
                    use_ema: bool = False, strict: bool = False,
                    logger=None) -> Tuple[List[str], List[str]]:
    """Read ``path`` (any supported layout), convert it and load it into ``model``.

    ``prefix`` selects a sub-module of a bigger checkpoint (e.g. ``'backbone.'`` of a whole
    detector); it is stripped before layout detection.
    """
    sd = unwrap_checkpoint(read_checkpoint(path), use_ema=use_ema)
    if prefix:
        sel = {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}
        if not sel:
            raise CheckpointError(f'no key of {path} starts with prefix {prefix!r}')
        sd = sel
    sd, report = convert_state_dict(sd)
    print_log(f'EVA checkpoint {path}: layout {report.layout!r}; dropped {len(report.dropped)} '
              f'key(s) ({sorted(set(report.dropped.values()))}); {report.notes}', logger=logger)
    return load_state_dict_into(model, sd, strict=strict, logger=logger)


# -- whole-model layouts -----------------------------------------------------------------------
# Official checkpoints of whole task models (a detectron2 detector, a video classifier, an mmseg
# 0.x segmenter) convert to the keys of the eva_mm mm* model, not only to EVAViT keys. Each task
# adapter registers its layout here (on import); the CLI and ``ConvertCheckpointHook`` (so
# ``load_from`` and ``tools/test.py``) call :func:`convert_model_state_dict`, the one path.


@dataclass
class ModelLayout:
    """A whole-model checkpoint layout: ``detect(sd)`` says whether a state dict has it,
    ``convert(sd)`` returns the eva_mm model's state dict and a report of what was dropped."""
    name: str
    detect: Callable[[StateDict], bool]
    convert: Callable[[StateDict], Tuple[StateDict, ConversionReport]]


MODEL_LAYOUTS: List[ModelLayout] = []


def register_model_layout(name: str, detect: Callable[[StateDict], bool],
                          convert: Callable[[StateDict], Tuple[StateDict, ConversionReport]]
                          ) -> None:
    """Register (or replace, by name) a whole-model layout."""
    MODEL_LAYOUTS[:] = [m for m in MODEL_LAYOUTS if m.name != name]
    MODEL_LAYOUTS.append(ModelLayout(name, detect, convert))


def detect_model_layout(sd: StateDict) -> Optional[ModelLayout]:
    """The registered whole-model layout of ``sd``, or None (then it is a backbone layout)."""
    hits = [m for m in MODEL_LAYOUTS if m.detect(sd)]
    if len(hits) > 1:
        raise CheckpointError(f'ambiguous checkpoint: matches the layouts {[m.name for m in hits]}')
    return hits[0] if hits else None


def convert_model_state_dict(sd: StateDict) -> Tuple[StateDict, ConversionReport]:
    """Any supported checkpoint -> the state dict of an eva_mm model: a registered whole-model
    layout converts all its keys; a backbone layout becomes ``backbone.<EVAViT key>``."""
    layout = detect_model_layout(sd)
    if layout is not None:
        out, report = layout.convert(sd)
        report.layout = layout.name
        return out, report
    out, report = convert_state_dict(sd)
    return {f'backbone.{k}': v for k, v in out.items()}, report


def save_checkpoint_atomic(obj: dict, path: str) -> None:
    """torch.save to ``path`` through a temporary file and an atomic rename."""
    d = osp.dirname(osp.abspath(path))
    os.makedirs(d, exist_ok=True)
    tmp = osp.join(d, f'.{osp.basename(path)}.tmp{os.getpid()}')
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
