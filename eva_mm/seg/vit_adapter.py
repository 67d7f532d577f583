"""ViT-Adapter for EVAViT: a dense-prediction backbone around the one EVA ViT.

The adapter holds an :class:`~eva_mm.models.EVAViT` and drives it block by block through its
public ``embed`` / ``run_block`` API (no attention or block is re-implemented here). Around
it:

* :class:`SpatialPriorModule` - a small conv stem giving features at strides 4, 8, 16, 32;
* one :class:`InteractionStage` per group of ViT blocks (the blocks split evenly into
  ``num_stages`` groups, computed from the depth): an :class:`Injector` (spatial features ->
  ViT patch tokens, multi-scale deformable cross-attention, zero-initialised gate ``gamma``)
  before the group and an :class:`Extractor` (ViT tokens -> spatial features, deformable
  cross-attention + conv FFN) after it;
* four NCHW outputs at strides 4, 8, 16, 32.

Deformable attention is mmcv's ``MultiScaleDeformableAttention`` (its compiled op on
CUDA, its PyTorch path ``multi_scale_deformable_attn_pytorch`` elsewhere).

Inputs of any size are accepted: the image is zero-padded to a multiple of 32 (and of the
patch size for the ViT), the outputs are cropped back to ``ceil(H / s) x ceil(W / s)``.
"""
import math
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
import torch.utils.checkpoint as cp
from mmcv.cnn import build_norm_layer
from mmcv.ops import MultiScaleDeformableAttention
from mmengine.model import BaseModule
from torch import nn

from ..layers import DropPath
from ..models import EVAViT
from ..registry import MODELS

Shapes = List[Tuple[int, int]]


def split_blocks(num_layers: int, num_stages: int) -> List[Tuple[int, int]]:
    """Split ``num_layers`` blocks into ``num_stages`` contiguous groups, as evenly as
    possible (earlier groups get the remainder). Returns inclusive ``(first, last)`` pairs;
    EVA-g (40 blocks, 4 stages): ``[(0, 9), (10, 19), (20, 29), (30, 39)]``."""
    if num_stages <= 0:
        raise ValueError(f'num_stages must be positive, got {num_stages}')
    if num_stages > num_layers:
        raise ValueError(f'cannot split {num_layers} blocks into {num_stages} interaction stages')
    base, extra = divmod(num_layers, num_stages)
    out, start = [], 0
    for k in range(num_stages):
        n = base + (1 if k < extra else 0)
        out.append((start, start + n - 1))
        start += n
    return out


def grid_reference_points(shapes: Shapes, strides: Sequence[float], extent: Tuple[int, int],
                          device: torch.device) -> torch.Tensor:
    """Centres of the cells of each grid, normalised by an image extent.

    Args:
        shapes: ``(h, w)`` of each grid.
        strides: pixel stride of each grid.
        extent: ``(H, W)`` in pixels that the [0, 1] range spans (the attended map's extent).
    Returns:
        (1, sum h*w, 1, 2) ``(x, y)`` points, the layout of mmcv's ``reference_points``.
    """
    pts = []
    for (h, w), s in zip(shapes, strides):
        ys = (torch.arange(h, device=device, dtype=torch.float32) + 0.5) * s / extent[0]
        xs = (torch.arange(w, device=device, dtype=torch.float32) + 0.5) * s / extent[1]
        y, x = torch.meshgrid(ys, xs, indexing='ij')
        pts.append(torch.stack((x.reshape(-1), y.reshape(-1)), -1))
    return torch.cat(pts, 0)[None, :, None]


def level_start_index(shapes: torch.Tensor) -> torch.Tensor:
    """(L, 2) long spatial shapes -> (L,) start offsets of each level in the flat sequence."""
    return torch.cat((shapes.new_zeros(1), shapes.prod(1).cumsum(0)[:-1]))


def _msda(dim: int, num_heads: int, num_levels: int, num_points: int,
          value_ratio: float) -> MultiScaleDeformableAttention:
    return MultiScaleDeformableAttention(embed_dims=dim, num_heads=num_heads,
                                         num_levels=num_levels, num_points=num_points,
                                         dropout=0., batch_first=True,
                                         value_proj_ratio=value_ratio)


class SpatialPriorModule(nn.Module):
    """Conv stem: (B, 3, H, W) -> c1 (B, C, H/4, W/4) and c2, c3, c4 at strides 8, 16, 32,
    all projected to the ViT width C. H and W must be multiples of 32."""

    def __init__(self, inplanes: int, embed_dims: int, in_channels: int = 3,
                 norm_cfg: Optional[dict] = None) -> None:
        super().__init__()
        norm_cfg = norm_cfg or dict(type='BN')

        def conv(cin: int, cout: int, stride: int) -> List[nn.Module]:
            return [nn.Conv2d(cin, cout, 3, stride, 1, bias=False),
                    build_norm_layer(norm_cfg, cout)[1], nn.ReLU(inplace=True)]

        self.stem = nn.Sequential(*conv(in_channels, inplanes, 2), *conv(inplanes, inplanes, 1),
                                  *conv(inplanes, inplanes, 1),
                                  nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
        self.conv2 = nn.Sequential(*conv(inplanes, 2 * inplanes, 2))
        self.conv3 = nn.Sequential(*conv(2 * inplanes, 4 * inplanes, 2))
        self.conv4 = nn.Sequential(*conv(4 * inplanes, 4 * inplanes, 2))
        self.fc1 = nn.Conv2d(inplanes, embed_dims, 1)
        self.fc2 = nn.Conv2d(2 * inplanes, embed_dims, 1)
        self.fc3 = nn.Conv2d(4 * inplanes, embed_dims, 1)
        self.fc4 = nn.Conv2d(4 * inplanes, embed_dims, 1)

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        c1 = self.stem(x)
        c2 = self.conv2(c1)
        c3 = self.conv3(c2)
        c4 = self.conv4(c3)
        return self.fc1(c1), self.fc2(c2), self.fc3(c3), self.fc4(c4)


class MultiLevelDWConv(nn.Module):
    """Depth-wise 3x3 conv applied to each level of a flattened multi-level sequence.

    (B, sum h*w, C) -> (B, sum h*w, C); one kernel shared by the levels."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 3, 1, 1, groups=dim)

    def forward(self, x: torch.Tensor, shapes: Shapes) -> torch.Tensor:
        B, _, C = x.shape
        outs = []
        for t, (h, w) in zip(x.split([h * w for h, w in shapes], dim=1), shapes):
            t = t.transpose(1, 2).reshape(B, C, h, w)
            outs.append(self.dwconv(t).flatten(2).transpose(1, 2))
        return torch.cat(outs, dim=1)


class ConvFFN(nn.Module):
    """Linear -> multi-level depth-wise conv -> GELU -> Linear on (B, N, C) tokens."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.dwconv = MultiLevelDWConv(hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor, shapes: Shapes) -> torch.Tensor:
        return self.fc2(self.act(self.dwconv(self.fc1(x), shapes)))


class Injector(nn.Module):
    """ViT patch tokens attend to the spatial pyramid: ``x + gamma * MSDA(LN(x), LN(c))``.

    ``gamma`` starts at ``init_values`` (0: the pre-trained ViT is undisturbed at first)."""

    def __init__(self, dim: int, num_heads: int, num_points: int, num_levels: int = 3,
                 value_ratio: float = 1., init_values: float = 0., norm_eps: float = 1e-6,
                 with_cp: bool = False) -> None:
        super().__init__()
        self.query_norm = nn.LayerNorm(dim, eps=norm_eps)
        self.feat_norm = nn.LayerNorm(dim, eps=norm_eps)
        self.attn = _msda(dim, num_heads, num_levels, num_points, value_ratio)
        self.gamma = nn.Parameter(init_values * torch.ones(dim))
        self.with_cp = with_cp

    def _forward(self, x: torch.Tensor, c: torch.Tensor, ref: torch.Tensor,
                 shapes: torch.Tensor, start: torch.Tensor) -> torch.Tensor:
        q = self.query_norm(x)
        attn = self.attn(query=q, value=self.feat_norm(c), identity=torch.zeros_like(q),
                         reference_points=ref, spatial_shapes=shapes, level_start_index=start)
        return x + self.gamma * attn

    def forward(self, x: torch.Tensor, c: torch.Tensor, ref: torch.Tensor,
                shapes: torch.Tensor, start: torch.Tensor) -> torch.Tensor:
        """x (B, N, C) ViT patch tokens; c (B, M, C) pyramid tokens; ref (B, N, L, 2)."""
        if self.with_cp and x.requires_grad and self.training:
            return cp.checkpoint(self._forward, x, c, ref, shapes, start, use_reentrant=False)
        return self._forward(x, c, ref, shapes, start)


class Extractor(nn.Module):
    """Spatial pyramid tokens attend to the ViT tokens, then a conv FFN:
    ``c = c + MSDA(LN(c), LN(x)); c = c + FFN(LN(c))``."""

    def __init__(self, dim: int, num_heads: int, num_points: int, value_ratio: float = 1.,
                 cffn_ratio: float = 0.25, drop_path: float = 0., norm_eps: float = 1e-6,
                 with_cp: bool = False) -> None:
        super().__init__()
        self.query_norm = nn.LayerNorm(dim, eps=norm_eps)
        self.feat_norm = nn.LayerNorm(dim, eps=norm_eps)
        self.attn = _msda(dim, num_heads, 1, num_points, value_ratio)
        self.ffn_norm = nn.LayerNorm(dim, eps=norm_eps)
        self.ffn = ConvFFN(dim, max(1, int(dim * cffn_ratio)))
        self.drop_path = DropPath(drop_path)
        self.with_cp = with_cp

    def _forward(self, c: torch.Tensor, x: torch.Tensor, ref: torch.Tensor,
                 shapes: torch.Tensor, start: torch.Tensor, c_shapes: Shapes) -> torch.Tensor:
        c = self.attn(query=self.query_norm(c), value=self.feat_norm(x), identity=c,
                      reference_points=ref, spatial_shapes=shapes, level_start_index=start)
        return c + self.drop_path(self.ffn(self.ffn_norm(c), c_shapes))

    def forward(self, c: torch.Tensor, x: torch.Tensor, ref: torch.Tensor,
                shapes: torch.Tensor, start: torch.Tensor, c_shapes: Shapes) -> torch.Tensor:
        """c (B, M, C) pyramid tokens (levels ``c_shapes``); x (B, N, C) ViT patch tokens;
        ref (B, M, 1, 2)."""
        if self.with_cp and c.requires_grad and self.training:
            return cp.checkpoint(self._forward, c, x, ref, shapes, start, c_shapes,
                                 use_reentrant=False)
        return self._forward(c, x, ref, shapes, start, c_shapes)


class InteractionStage(nn.Module):
    """Injector -> the stage's ViT blocks (run by the EVAViT) -> extractor(s).

    The ViT's prefix (cls) tokens go through the blocks but take no part in the
    injection/extraction. ``num_extra_extractors`` extra extractors (the last stage of
    ViT-Adapter has 2) refine the pyramid further."""

    def __init__(self, dim: int, blocks: Tuple[int, int], num_heads: int, num_points: int,
                 value_ratio: float, cffn_ratio: float, init_values: float, drop_path: float,
                 num_extra_extractors: int = 0, with_cp: bool = False) -> None:
        super().__init__()
        self.first_block, self.last_block = blocks
        self.injector = Injector(dim, num_heads, num_points, 3, value_ratio, init_values,
                                 with_cp=with_cp)
        self.extractor = Extractor(dim, num_heads, num_points, value_ratio, cffn_ratio,
                                   drop_path, with_cp=with_cp)
        self.extra_extractors = nn.ModuleList(
            Extractor(dim, num_heads, num_points, value_ratio, cffn_ratio, drop_path,
                      with_cp=with_cp) for _ in range(num_extra_extractors))

    def forward(self, vit: EVAViT, prefix: torch.Tensor, x: torch.Tensor, c: torch.Tensor,
                hw: Tuple[int, int], inj: Tuple[torch.Tensor, ...],
                ext: Tuple[torch.Tensor, ...], c_shapes: Shapes
                ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """prefix (B, P, C), x (B, h*w, C) ViT tokens, c (B, M, C) pyramid tokens;
        ``inj``/``ext`` = (reference points, spatial shapes, level starts) of the
        injector/extractor. Returns the updated (prefix, x, c)."""
        x = self.injector(x, c, *inj)
        P = prefix.shape[1]
        t = torch.cat((prefix, x), dim=1) if P else x
        for i in range(self.first_block, self.last_block + 1):
            t = vit.run_block(i, t, hw)
        prefix, x = t[:, :P], t[:, P:]
        c = self.extractor(c, x, *ext, c_shapes)
        for extractor in self.extra_extractors:
            c = extractor(c, x, *ext, c_shapes)
        return prefix, x, c


@MODELS.register_module()
class EVAAdapter(BaseModule):
    """EVA ViT + ViT-Adapter: (B, 3, H, W) -> four (B, C, ceil(H/s), ceil(W/s)) maps,
    s = 4, 8, 16, 32, C the ViT width.

    Args:
        vit: keyword arguments of the :class:`EVAViT` it wraps (``arch``, ``img_size``,
            ``patch_size``, ``drop_path_rate``, ``with_cp``,
            ``init_cfg=dict(type='Pretrained', checkpoint=...)`` ...). The ViT's own output
            options are unused: the adapter runs it block by block.
        num_stages: interaction stages; the ViT's blocks are split evenly among them.
        conv_inplane: width of the spatial prior module's stem.
        deform_num_heads: heads of the deformable attentions.
        num_points: sampling points per head and level.
        deform_ratio: value-projection width ratio of the deformable attentions.
        cffn_ratio: hidden width ratio of the extractor's conv FFN.
        init_values: initial injector gate (0 as ViT-Adapter: start from the plain ViT).
        drop_path_rate: stochastic depth of the extractor FFNs.
        num_extra_extractors: extra extractors in the last stage (ViT-Adapter: 2).
        add_vit_feature: add each stage's ViT map (resized) to the matching output
            (stage k to output k with 4 stages).
        norm_cfg: norm of the conv stem and the four output norms (``SyncBN`` for
            multi-GPU training; mmengine reverts it to BN when not distributed).
        with_cp: activation checkpointing of the injectors/extractors (the ViT blocks follow
            ``vit['with_cp']``).
        cls_pos_embed: add the position embedding's cls slot to the cls token. False (default)
            as the official ViT-Adapter / EVA-01 segmenter (``BEiTAdapter``), whose cls token
            enters the blocks without position embedding (``pos_embed[:, 0]`` is unused);
            True as the plain EVAViT.
    """

    def __init__(self,
                 vit: dict,
                 num_stages: int = 4,
                 conv_inplane: int = 64,
                 deform_num_heads: int = 16,
                 num_points: int = 4,
                 deform_ratio: float = 0.5,
                 cffn_ratio: float = 0.25,
                 init_values: float = 0.,
                 drop_path_rate: float = 0.,
                 num_extra_extractors: int = 2,
                 add_vit_feature: bool = True,
                 norm_cfg: Optional[dict] = None,
                 with_cp: bool = False,
                 cls_pos_embed: bool = False,
                 init_cfg: Optional[Union[dict, List[dict]]] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if not isinstance(vit, dict):
            raise TypeError(f'vit must be a dict of EVAViT arguments, got {type(vit).__name__}')
        vit = dict(vit)
        vit.pop('type', None)
        vit.setdefault('final_norm', False)  # the adapter normalises its own outputs
        self.vit = EVAViT(**vit)
        C = self.vit.embed_dims
        if C % deform_num_heads:
            raise ValueError(f'ViT width {C} is not divisible by deform_num_heads '
                             f'{deform_num_heads}')
        if self.vit.window_block_indexes:
            raise ValueError('EVAAdapter runs global attention; window_block_indexes must be '
                             'empty')
        norm_cfg = norm_cfg or dict(type='BN')
        self.embed_dims = C
        self.add_vit_feature = add_vit_feature
        self.cls_pos_embed = cls_pos_embed
        self.stage_blocks = split_blocks(self.vit.num_layers, num_stages)
        self.level_embed = nn.Parameter(torch.zeros(3, C))
        self.spm = SpatialPriorModule(conv_inplane, C, self.vit.patch_embed.proj.in_channels,
                                      norm_cfg)
        self.stages = nn.ModuleList(
            InteractionStage(C, blocks, deform_num_heads, num_points, deform_ratio,
                             cffn_ratio, init_values, drop_path_rate,
                             num_extra_extractors if k == num_stages - 1 else 0, with_cp)
            for k, blocks in enumerate(self.stage_blocks))
        self.up = nn.ConvTranspose2d(C, C, 2, 2)
        self.out_norms = nn.ModuleList(build_norm_layer(norm_cfg, C)[1] for _ in range(4))
        self._init_adapter_params()

    # -- initialisation ------------------------------------------------------------------------
    def _init_adapter_params(self) -> None:
        """Adapter layers: trunc-normal Linear, Kaiming conv, unit norms; the deformable
        attentions keep mmcv's own initialisation (grid offsets, zero attention weights)."""
        nn.init.normal_(self.level_embed)
        msda = [m for m in self.modules() if isinstance(m, MultiScaleDeformableAttention)]
        skip = {id(p) for m in msda for p in m.parameters()}
        for name, m in self.named_modules():
            if name.startswith('vit.') or name == 'vit':
                continue
            params = list(m.parameters(recurse=False))
            if any(id(p) in skip for p in params):
                continue
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels // m.groups
                nn.init.normal_(m.weight, 0, math.sqrt(2.0 / fan_out))
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.LayerNorm, nn.modules.batchnorm._BatchNorm, nn.GroupNorm)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def init_weights(self) -> None:
        """Run mmengine's initialisation; this calls ``self.vit.init_weights()``, which loads
        ``vit['init_cfg']`` (an official EVA checkpoint) through eva_mm's converter."""
        super().init_weights()
        if not getattr(self.vit, '_is_init', False):
            self.vit.init_weights()

    # -- layer-wise lr decay: delegate to the ViT --------------------------------------------
    @property
    def num_layers(self) -> int:
        return self.vit.num_layers

    def get_layer_depth(self, param_name: str, prefix: str = '') -> Tuple[int, int]:
        """Layer id for lr decay: the ViT's own ids; adapter modules count as after the ViT."""
        return self.vit.get_layer_depth(param_name, prefix + 'vit.')

    # -- forward -------------------------------------------------------------------------------
    @staticmethod
    def _vit_maps_per_output(vit_maps: List[torch.Tensor]) -> List[torch.Tensor]:
        """The stage output added to each of the 4 outputs: stage k for output k with 4
        stages (ViT-Adapter); otherwise stage ``floor(k * num_stages / 4)``."""
        n = len(vit_maps)
        return [vit_maps[k * n // 4] for k in range(4)]

    def forward(self, img: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        """(B, 3, H, W) -> four (B, C, ceil(H/s), ceil(W/s)) maps, s = 4, 8, 16, 32."""
        if img.dim() != 4:
            raise ValueError(f'EVAAdapter expects (B, C, H, W) images, got {tuple(img.shape)}')
        B, _, H, W = img.shape
        Hp, Wp = math.ceil(H / 32) * 32, math.ceil(W / 32) * 32
        img = F.pad(img, (0, Wp - W, 0, Hp - H))
        c1, c2, c3, c4 = self.spm(img)
        c_shapes = [tuple(t.shape[-2:]) for t in (c2, c3, c4)]
        c = torch.cat([t.flatten(2).transpose(1, 2) + self.level_embed[k]
                       for k, t in enumerate((c2, c3, c4))], dim=1)

        ps = self.vit.patch_size
        Hv, Wv = math.ceil(Hp / ps) * ps, math.ceil(Wp / ps) * ps
        tokens, hw = self.vit.embed(F.pad(img, (0, Wv - Wp, 0, Hv - Hp)))
        P = self.vit.num_prefix_tokens
        prefix, x = tokens[:, :P], tokens[:, P:]
        if P and not self.cls_pos_embed:  # the official adapter: no position for the cls token
            prefix = self.vit.cls_token.expand(B, -1, -1).to(x.dtype)

        dev = img.device
        # injector: ViT tokens query the pyramid (extent = the padded image Hp x Wp)
        inj_shapes = torch.as_tensor(c_shapes, dtype=torch.long, device=dev)
        inj_ref = grid_reference_points([hw], [ps], (Hp, Wp), dev)
        inj = (inj_ref.expand(B, -1, 3, -1), inj_shapes, level_start_index(inj_shapes))
        # extractor: pyramid cells query the ViT map (extent = the ViT input Hv x Wv)
        ext_shapes = torch.as_tensor([hw], dtype=torch.long, device=dev)
        ext_ref = grid_reference_points(c_shapes, [8, 16, 32], (Hv, Wv), dev)
        ext = (ext_ref.expand(B, -1, 1, -1), ext_shapes, level_start_index(ext_shapes))

        vit_maps = []
        for stage in self.stages:
            prefix, x, c = stage(self.vit, prefix, x, c, hw, inj, ext, c_shapes)
            if self.add_vit_feature:
                vit_maps.append(x.transpose(1, 2).reshape(B, self.embed_dims, *hw))

        n2, n3 = c_shapes[0][0] * c_shapes[0][1], c_shapes[1][0] * c_shapes[1][1]
        maps = [t.transpose(1, 2).reshape(B, self.embed_dims, *s)
                for t, s in zip(c.split([n2, n3, c.shape[1] - n2 - n3], dim=1), c_shapes)]
        outs = [self.up(maps[0]) + c1] + maps
        if self.add_vit_feature:
            # each stage's ViT map, resampled to stride s over the ViT's extent Hv x Wv
            # (== Hp x Wp when the patch size divides 32), then cropped to the output
            outs = [o + F.interpolate(v, size=(math.ceil(Hv / s), math.ceil(Wv / s)),
                                      mode='bilinear', align_corners=False
                                      )[..., :o.shape[-2], :o.shape[-1]]
                    for o, v, s in zip(outs, self._vit_maps_per_output(vit_maps),
                                       (4, 8, 16, 32))]
        outs = [norm(o) for norm, o in zip(self.out_norms, outs)]
        return tuple(o[..., :math.ceil(H / s), :math.ceil(W / s)]
                     for o, s in zip(outs, (4, 8, 16, 32)))


__all__ = ['EVAAdapter', 'SpatialPriorModule', 'InteractionStage', 'Injector', 'Extractor',
           'ConvFFN', 'split_blocks', 'grid_reference_points', 'level_start_index']
