"""The one layer-wise lr-decay optimizer-wrapper constructor of eva_mm."""
from typing import List, Optional, Tuple

from mmengine.logging import print_log
from mmengine.optim import DefaultOptimWrapperConstructor
from torch import nn

from ..registry import OPTIM_WRAPPER_CONSTRUCTORS


def find_layered_module(model: nn.Module) -> Tuple[Optional[nn.Module], str]:
    """The first sub-module that reports layer depths (``get_layer_depth``) and its prefix."""
    for name, m in model.named_modules():
        if hasattr(m, 'get_layer_depth') and hasattr(m, 'num_layers'):
            return m, (name + '.') if name else ''
    return None, ''


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class LayerDecayOptimWrapperConstructor(DefaultOptimWrapperConstructor):
    """AdamW/SGD parameter groups with layer-wise lr decay for any model containing an
    EVAViT (found by its ``get_layer_depth``), usable from mmdet/mmseg/mmaction2/mmpretrain.

    A parameter at layer id ``i`` of ``n`` gets ``lr * layer_decay_rate ** (n - 1 - i)``;
    parameters outside the backbone (necks, heads) get the full lr. Biases, norms, 1-D
    parameters and names in ``no_decay_names`` get no weight decay.

    ``paramwise_cfg``: ``layer_decay_rate`` (float in (0, 1], required),
    ``no_decay_names`` (list of name substrings, default position/cls/mask tokens and
    relative position tables), ``decay_all`` (bool, default False: True applies the weight
    decay to every parameter, norms, biases and embeddings included, as the official EVA-01
    detector runs do) and ``layer0_names`` (list of parameter-name prefixes of the whole
    model, default none: they join the backbone's embeddings at layer 0, i.e. ``lr *
    layer_decay_rate ** (n - 1)``, as the official EVA-01 segmenter does with Mask2Former's
    ``decode_head.{query_embed,query_feat,level_embed,cls_embed,mask_embed}``; their weight
    decay follows the same rules as every other parameter's; a prefix that matches no
    trainable parameter is an error).
    """
    DEFAULT_NO_DECAY = ('pos_embed', 'cls_token', 'mask_token', 'rel_pos_h', 'rel_pos_w',
                        'gamma_1', 'gamma_2')

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: Optional[dict] = None) -> None:
        paramwise_cfg = dict(paramwise_cfg or {})
        # keep the dict non-empty for the parent, which only calls add_params when it is set
        full_cfg = dict(paramwise_cfg)
        if 'layer_decay_rate' not in paramwise_cfg:
            raise ValueError('LayerDecayOptimWrapperConstructor needs '
                             'paramwise_cfg=dict(layer_decay_rate=...)')
        self.layer_decay_rate = float(paramwise_cfg.pop('layer_decay_rate'))
        if not 0 < self.layer_decay_rate <= 1:
            raise ValueError(f'layer_decay_rate must be in (0, 1], got {self.layer_decay_rate}')
        self.no_decay_names = tuple(paramwise_cfg.pop('no_decay_names', self.DEFAULT_NO_DECAY))
        self.layer0_names = tuple(paramwise_cfg.pop('layer0_names', ()))
        self.decay_all = bool(paramwise_cfg.pop('decay_all', False))
        if paramwise_cfg:
            raise ValueError(f'LayerDecayOptimWrapperConstructor does not support paramwise_cfg '
                             f'key(s) {sorted(paramwise_cfg)} (supported: layer_decay_rate, '
                             f'no_decay_names, decay_all, layer0_names)')
        super().__init__(optim_wrapper_cfg, full_cfg)

    def add_params(self, params: List[dict], module: nn.Module, **kwargs) -> None:
        backbone, prefix = find_layered_module(module)
        if backbone is None:
            raise ValueError('layer-wise lr decay needs a model containing a module with '
                             'get_layer_depth() (e.g. eva_mm.EVAViT)')
        base_lr = self.base_lr
        base_wd = self.base_wd or 0.
        groups = {}
        unmatched = set(self.layer0_names)
        for name, p in module.named_parameters():
            if not p.requires_grad:
                continue
            layer_id, num_layers = backbone.get_layer_depth(name, prefix=prefix)
            first = [n for n in self.layer0_names if name.startswith(n)]
            if first:
                layer_id = 0
                unmatched.difference_update(first)
            no_decay = not self.decay_all and (p.ndim == 1 or name.endswith('.bias') or any(
                n in name for n in self.no_decay_names))
            key = (layer_id, no_decay)
            if key not in groups:
                scale = self.layer_decay_rate**(num_layers - 1 - layer_id)
                groups[key] = dict(params=[], param_names=[], lr=base_lr * scale,
                                   weight_decay=0. if no_decay else base_wd,
                                   lr_scale=scale, layer_id=layer_id)
            groups[key]['params'].append(p)
            groups[key]['param_names'].append(name)
        if unmatched:
            raise ValueError(f'layer0_names {sorted(unmatched)} match no trainable parameter '
                             f'of {type(module).__name__}')
        for key in sorted(groups):
            g = groups[key]
            g.pop('param_names')
            params.append(g)
        print_log(f'layer-wise lr decay {self.layer_decay_rate}: {len(groups)} parameter groups '
                  f'over {backbone.num_layers} backbone blocks', logger='current')


__all__ = ['LayerDecayOptimWrapperConstructor', 'find_layered_module']
