"""ViTDet's simple feature pyramid: a multi-scale pyramid from one stride-16 map."""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule, build_norm_layer
from mmengine.model import BaseModule
from torch import nn

from ..layers import LayerNorm2d
from ..registry import MODELS

# channels-first LayerNorm for mmcv's ``build_norm_layer`` (``norm_cfg=dict(type='eva_mm.LN2d')``)
MODELS.register_module('LN2d', module=LayerNorm2d)

DEFAULT_NORM = dict(type='eva_mm.LN2d', requires_grad=True)


def _scoped_norm(norm_cfg: Optional[dict]) -> Optional[dict]:
    """``type='LN2d'`` without a scope means eva_mm's LN2d (mmdet itself has none)."""
    if norm_cfg is None:
        return None
    cfg = dict(norm_cfg)
    if cfg.get('type') == 'LN2d':
        cfg['type'] = 'eva_mm.LN2d'
    return cfg


@MODELS.register_module()
class SimpleFPN(BaseModule):
    """Simple feature pyramid (ViTDet) over the single stride-16 map of a plain ViT.

    The map (B, C, H, W) is resampled to scales 4, 2, 1 and 1/2 (strides 4, 8, 16, 32 for a
    patch-16 backbone) by two transposed convs (with norm + GELU between), one transposed
    conv, identity and a 2x2 max-pool; each level then gets a 1x1 lateral and a 3x3 output
    conv (both normed) to ``out_channels``. Levels beyond four (``num_outs`` > 4) are
    max-pooled (kernel 1, stride 2) from the last one (stride 64).

    Args:
        backbone_channel: C, the width of the backbone map.
        in_channels: widths of the four resampled levels, must be [C/4, C/2, C, C].
        out_channels: width of every output level.
        num_outs: number of outputs (>= 4).
        conv_cfg: mmcv conv config of the lateral/output convs.
        norm_cfg: mmcv norm config; default channels-first LayerNorm ``eva_mm.LN2d``.
        init_cfg: mmengine init config.
    """

    def __init__(self,
                 backbone_channel: int,
                 in_channels: Sequence[int],
                 out_channels: int,
                 num_outs: int,
                 conv_cfg: Optional[dict] = None,
                 norm_cfg: Optional[dict] = DEFAULT_NORM,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        C = backbone_channel
        expected = [C // 4, C // 2, C, C]
        if C % 4:
            raise ValueError(f'SimpleFPN backbone_channel must be divisible by 4, got {C}')
        if list(in_channels) != expected:
            raise ValueError(f'SimpleFPN in_channels must be {expected} for backbone_channel={C}'
                             f' (scales 4, 2, 1, 1/2), got {list(in_channels)}')
        if num_outs < len(expected):
            raise ValueError(f'SimpleFPN num_outs must be >= 4, got {num_outs}')
        self.backbone_channel = C
        self.in_channels = list(in_channels)
        self.out_channels = out_channels
        self.num_outs = num_outs
        norm_cfg = _scoped_norm(norm_cfg)

        def up_norm(ch: int) -> nn.Module:
            return build_norm_layer(norm_cfg, ch)[1] if norm_cfg is not None else nn.Identity()

        self.fpn1 = nn.Sequential(
            nn.ConvTranspose2d(C, C // 2, 2, 2), up_norm(C // 2), nn.GELU(),
            nn.ConvTranspose2d(C // 2, C // 4, 2, 2))
        self.fpn2 = nn.Sequential(nn.ConvTranspose2d(C, C // 2, 2, 2))
        self.fpn3 = nn.Identity()
        self.fpn4 = nn.MaxPool2d(kernel_size=2, stride=2)

        self.lateral_convs = nn.ModuleList()
        self.fpn_convs = nn.ModuleList()
        for ch in self.in_channels:
            self.lateral_convs.append(
                ConvModule(ch, out_channels, 1, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                           act_cfg=None, inplace=False))
            self.fpn_convs.append(
                ConvModule(out_channels, out_channels, 3, padding=1, conv_cfg=conv_cfg,
                           norm_cfg=norm_cfg, act_cfg=None, inplace=False))

    def forward(self, inputs: Tuple[torch.Tensor, ...]) -> Tuple[torch.Tensor, ...]:
        """
        Args:
            inputs: the backbone's outputs; the first is the (B, C, H, W) stride-16 map.
        Returns:
            ``num_outs`` maps (B, out_channels, 4H / 2**k, 4W / 2**k), k = 0 .. num_outs-1.
        """
        if isinstance(inputs, torch.Tensor):
            inputs = (inputs, )
        x = inputs[0]
        if x.dim() != 4 or x.shape[1] != self.backbone_channel:
            raise ValueError(f'SimpleFPN expects a (B, {self.backbone_channel}, H, W) map, got '
                             f'{tuple(x.shape)}; use EVAViT(out_type="featmap", '
                             'with_cls_token=False)')
        feats = [self.fpn1(x), self.fpn2(x), self.fpn3(x), self.fpn4(x)]
        outs: List[torch.Tensor] = [
            fpn(lat(f)) for f, lat, fpn in zip(feats, self.lateral_convs, self.fpn_convs)
        ]
        for _ in range(self.num_outs - len(outs)):
            outs.append(F.max_pool2d(outs[-1], 1, stride=2))
        return tuple(outs)


__all__ = ['SimpleFPN', 'DEFAULT_NORM']
