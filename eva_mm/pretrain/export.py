"""Export an :class:`EVACLIP` to an open_clip model (config JSON + state dict).

The image tower becomes open_clip's timm tower: timm's ``Eva`` (the same block key names as
EVAViT) under ``visual.trunk.``, pooled on the cls token (``timm_pool='token'``) and projected
by the trunk's classifier ``head`` (``timm_proj=None``), as open_clip's ``EVA01-g-14``. The
text tower keeps open_clip's ``text.*`` keys (``custom_text``). EVA-g uses timm's
``eva_giant_patch14_224``; any other size is registered in timm as
``eva_mm_vit_d{C}_l{L}_h{H}_f{F}_p{P}_s{S}`` by :func:`register_timm_eva` — call it (or import
eva_mm and :func:`register_from_open_clip_config`) before ``open_clip.create_model``.

    cfg_path, weights = export_open_clip(model, 'work_dirs/export', 'eva-clip-tiny')
    open_clip.add_model_config(cfg_path)
    clip = open_clip.create_model('eva-clip-tiny', pretrained=weights)
"""
import json
import os
import os.path as osp
from typing import Dict, Tuple

import torch

from ..models.checkpoint import save_checkpoint_atomic

_EVA_G = dict(embed_dim=1408, depth=40, num_heads=16, ffn=6144, patch_size=14)
_TIMM_PREFIX = 'eva_mm_vit_'


def timm_eva_name(embed_dim: int, depth: int, num_heads: int, ffn: int, patch_size: int,
                  img_size: int) -> str:
    """The timm model name of an EVA-01 ViT of this geometry."""
    if dict(embed_dim=embed_dim, depth=depth, num_heads=num_heads, ffn=ffn,
            patch_size=patch_size) == _EVA_G and img_size in (224, 336, 560):
        return f'eva_giant_patch14_{img_size}'
    return (f'{_TIMM_PREFIX}d{embed_dim}_l{depth}_h{num_heads}_f{ffn}_p{patch_size}'
            f'_s{img_size}')


def register_timm_eva(name: str) -> str:
    """Register (idempotently) the timm entrypoint ``name`` made by :func:`timm_eva_name`."""
    import timm
    from timm.models import register_model
    from timm.models.eva import Eva
    if name.startswith('eva_giant_patch14_') or name in timm.list_models(_TIMM_PREFIX + '*'):
        return name
    if not name.startswith(_TIMM_PREFIX):
        raise ValueError(f'{name!r} is not an eva_mm timm EVA name')
    try:
        fields = dict((p[0], int(p[1:])) for p in name[len(_TIMM_PREFIX):].split('_'))
        arch = dict(embed_dim=fields['d'], depth=fields['l'], num_heads=fields['h'],
                    patch_size=fields['p'], img_size=fields['s'],
                    # int(C * ratio) must give exactly F
                    mlp_ratio=(fields['f'] + 0.5) / fields['d'])
    except (KeyError, ValueError, IndexError) as e:
        raise ValueError(f'cannot parse the EVA geometry from {name!r}') from e

    def entrypoint(pretrained: bool = False, **kwargs) -> Eva:
        if pretrained:
            raise ValueError(f'{name} has no pretrained weights in timm')
        for k in ('pretrained_cfg', 'pretrained_cfg_overlay', 'cache_dir'):
            kwargs.pop(k, None)
        return Eva(**dict(arch, **kwargs))

    entrypoint.__name__ = name
    entrypoint.__qualname__ = name
    entrypoint.__module__ = __name__
    register_model(entrypoint)
    return name


def register_from_open_clip_config(cfg: dict) -> None:
    """Register the timm tower an exported open_clip config names (if it is an eva_mm one)."""
    name = cfg.get('vision_cfg', {}).get('timm_model_name') or ''
    if name.startswith(_TIMM_PREFIX):
        register_timm_eva(name)


def open_clip_config(model) -> Tuple[dict, str]:
    """(open_clip model config dict, timm tower name) of an EVACLIP."""
    v = model.visual
    s = v.arch_settings
    if s['mlp_type'] != 'gelu' or s['use_rope'] or s['attn_norm'] or s['mlp_norm']:
        raise ValueError('only EVA-01 towers (GELU MLP, no RoPE, no sub-LN) map to timm Eva here')
    if v.img_size[0] != v.img_size[1]:
        raise ValueError(f'open_clip export needs a square image size, got {v.img_size}')
    name = timm_eva_name(v.embed_dims, v.num_layers, s['num_heads'], s['feedforward_channels'],
                         v.patch_size, v.img_size[0])
    cfg = dict(
        embed_dim=model.embed_dim,
        quick_gelu=bool(model.quick_gelu),
        vision_cfg=dict(image_size=v.img_size[0], timm_model_name=name,
                        timm_model_pretrained=False, timm_pool='token', timm_proj=None),
        text_cfg=dict(model.text_cfg),
        custom_text=True)
    return cfg, name


def open_clip_state_dict(model) -> Dict[str, torch.Tensor]:
    """The open_clip (CustomTextCLIP + timm tower) state dict of an EVACLIP."""
    sd: Dict[str, torch.Tensor] = {}
    for k, t in model.visual.state_dict().items():
        if k == 'mask_token':
            continue
        sd[f'visual.trunk.{k}'] = t.detach().clone()
    sd['visual.trunk.head.weight'] = model.visual_head.weight.detach().clone()
    sd['visual.trunk.head.bias'] = model.visual_head.bias.detach().clone()
    for k, t in model.text.state_dict().items():
        sd[f'text.{k}'] = t.detach().clone()
    sd['logit_scale'] = model.logit_scale.detach().clone()
    return sd


def export_open_clip(model, out_dir: str, name: str) -> Tuple[str, str]:
    """Write ``{out_dir}/{name}.json`` (open_clip model config) and
    ``{out_dir}/{name}.pt`` (state dict); registers the timm tower in this process.

    Returns (config path, weights path)."""
    if not name or os.sep in name or '.' in name:
        raise ValueError(f'invalid open_clip model name {name!r} (no dots or slashes)')
    cfg, timm_name = open_clip_config(model)
    register_timm_eva(timm_name)
    os.makedirs(out_dir, exist_ok=True)
    cfg_path = osp.join(out_dir, f'{name}.json')
    with open(cfg_path, 'w') as f:
        json.dump(cfg, f, indent=2)
    weights = osp.join(out_dir, f'{name}.pt')
    save_checkpoint_atomic(open_clip_state_dict(model), weights)
    return cfg_path, weights


def load_exported(cfg_path: str, weights: str, **kwargs):
    """``open_clip.create_model`` on an exported model (adds its config, registers the tower)."""
    import open_clip
    with open(cfg_path) as f:
        cfg = json.load(f)
    register_from_open_clip_config(cfg)
    open_clip.add_model_config(cfg_path)
    name = osp.splitext(osp.basename(cfg_path))[0]
    return open_clip.create_model(name, pretrained=weights, **kwargs)


__all__ = ['timm_eva_name', 'register_timm_eva', 'register_from_open_clip_config',
           'open_clip_config', 'open_clip_state_dict', 'export_open_clip', 'load_exported']
