"""Released EVA-01 segmenters (mmseg 0.x ViT-Adapter + Mask2Former) -> eva_mm's segmenter.

No official segmenter output exists here, so these tests check what can be checked: a
checkpoint written in the official key layout (names and shapes from the official module
definitions, :func:`official_segmenter_shapes`) converts and loads strictly into the model
built from the paper configs (tiny widths); every official tensor lands in exactly one model
tensor; perturbing one official key changes exactly the intended module; the official
adapter's cls-token convention holds; the head's test-time order; clear errors.
"""
import hashlib
import importlib.util
import os.path as osp
from typing import Dict, Tuple

import pytest
import torch
import torch.nn.functional as F
from mmengine.config import Config
from mmengine.registry import init_default_scope

from eva_mm.models.checkpoint import (CheckpointError, convert_model_state_dict,
                                      detect_model_layout)
from eva_mm.seg.convert import convert_eva01_segmenter, is_eva01_segmenter

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))

# tiny sizes; everything not listed keeps the paper config's value (4 interaction stages,
# 16 deformable heads, 4 points, deform_ratio 0.5, cffn_ratio 0.25, stem width 64, 2 extra
# extractors; pixel decoder 6 layers x 32 heads x 4 points x 3 levels; 8 decoder layers,
# 32 heads, 200 queries)
TINY = dict(embed=32, depth=4, heads=2, mlp=64, patch=16, img=64, inplane=64, stages=4,
            deform_heads=16, points=4, deform_ratio=0.5, cffn_ratio=0.25, feat=32, ffn=64,
            enc_layers=6, enc_heads=32, enc_points=4, levels=3, dec_layers=8, queries=200)


pytestmark = pytest.mark.usefixtures('one_thread')  # conftest.py


def official_segmenter_shapes(a: dict, num_classes: int) -> Dict[str, Tuple[int, ...]]:
    """Names and shapes of the official EVA-01 segmenter's state dict (mmseg 0.x
    ``EncoderDecoderMask2Former``), derived by reading the official module definitions in
    github baaivision/EVA, ``EVA-01/seg`` (every parameter and buffer each creates):

    * ``mmseg_custom/models/backbones/base/beit.py`` ``BEiT`` with ``qkv_bias=True``,
      ``use_abs_pos_emb=True``, ``use_rel_pos_bias=False``, ``init_values=None``: ``cls_token``,
      ``pos_embed`` (grid + cls slot), ``patch_embed.proj``, per block ``norm1``,
      ``attn.qkv.weight`` (no bias), ``attn.q_bias``/``v_bias``, ``attn.proj``, ``norm2``,
      ``mlp.fc1``/``fc2``; no final norm;
    * ``beit_adapter.py`` ``BEiTAdapter``: ``level_embed`` (3, C), ``spm``, ``interactions``,
      ``up`` (ConvTranspose2d, weight (in, out, 2, 2)), ``norm1..4`` (SyncBatchNorm);
    * ``adapter_modules.py``: ``SpatialPriorModule`` (stem = 3 x [conv3x3 no bias, BN, ReLU]
      + max-pool; conv2/3/4 = [conv3x3 stride 2 no bias, BN, ReLU]; fc1..4 = 1x1 conv with
      bias), ``InteractionBlockWithCls`` (``injector`` with 3 levels and ``gamma``,
      ``extractor`` with 1 level + ``ffn`` (fc1, dwconv.dwconv depth-wise 3x3, fc2) +
      ``ffn_norm``; the last block has ``extra_extractors`` x 2), ``ops/modules/
      ms_deform_attn.py`` ``MSDeformAttn`` (sampling_offsets, attention_weights,
      value_proj (C -> C * ratio), output_proj);
    * ``decode_heads/mask2former_head.py`` ``Mask2FormerHead`` (``conv_seg`` set to None;
      ``decoder_input_projs`` are Identity when widths match; query_embed, query_feat,
      level_embed, cls_embed (classes + 1), mask_embed 3 Linear), ``plugins/
      msdeformattn_pixel_decoder.py`` (input_convs = ConvModule 1x1 with bias + GN,
      encoder, level_encoding, lateral_convs = 1x1 no bias + GN, output_convs = 3x3 no bias
      + GN, mask_feature), mmcv 1.x ``BaseTransformerLayer`` (``attentions.i`` in the order
      of ``operation_order``, ``ffns.0.layers.0.0`` / ``.1``, ``norms.i``), ``utils/
      transformer.py`` ``DetrTransformerDecoder`` (``post_norm``; the encoder's post-norm is
      None because its layers are post-norm), mmcv ``MultiheadAttention`` (``attn.in_proj_*``,
      ``attn.out_proj``); the configs in ``EVA-01/seg/configs`` for the structure.
    """
    C, H, p = a['embed'], a['mlp'], a['patch']
    sd: Dict[str, Tuple[int, ...]] = {}

    def vec(name: str, n: int) -> None:
        sd[f'{name}.weight'], sd[f'{name}.bias'] = (n, ), (n, )

    def linear(name: str, o: int, i: int) -> None:
        sd[f'{name}.weight'], sd[f'{name}.bias'] = (o, i), (o, )

    def conv(name: str, o: int, i: int, k: int, bias: bool) -> None:
        sd[f'{name}.weight'] = (o, i, k, k)
        if bias:
            sd[f'{name}.bias'] = (o, )

    def bn(name: str, n: int) -> None:
        vec(name, n)
        sd[f'{name}.running_mean'], sd[f'{name}.running_var'] = (n, ), (n, )
        sd[f'{name}.num_batches_tracked'] = ()

    def msda(name: str, dim: int, heads: int, levels: int, points: int, ratio: float) -> None:
        linear(f'{name}.sampling_offsets', heads * levels * points * 2, dim)
        linear(f'{name}.attention_weights', heads * levels * points, dim)
        linear(f'{name}.value_proj', int(dim * ratio), dim)
        linear(f'{name}.output_proj', dim, int(dim * ratio))

    # -- BEiT
    sd['backbone.cls_token'] = (1, 1, C)
    sd['backbone.pos_embed'] = (1, (a['img'] // p)**2 + 1, C)
    conv('backbone.patch_embed.proj', C, 3, p, True)
    for i in range(a['depth']):
        b = f'backbone.blocks.{i}'
        vec(f'{b}.norm1', C)
        sd[f'{b}.attn.q_bias'], sd[f'{b}.attn.v_bias'] = (C, ), (C, )
        sd[f'{b}.attn.qkv.weight'] = (3 * C, C)
        linear(f'{b}.attn.proj', C, C)
        vec(f'{b}.norm2', C)
        linear(f'{b}.mlp.fc1', H, C)
        linear(f'{b}.mlp.fc2', C, H)
    # -- BEiTAdapter
    sd['backbone.level_embed'] = (3, C)
    i = a['inplane']
    for k, (cin, cout) in zip((0, 3, 6), ((3, i), (i, i), (i, i))):
        conv(f'backbone.spm.stem.{k}', cout, cin, 3, False)
        bn(f'backbone.spm.stem.{k + 1}', cout)
    for name, cin, cout in (('conv2', i, 2 * i), ('conv3', 2 * i, 4 * i), ('conv4', 4 * i, 4 * i)):
        conv(f'backbone.spm.{name}.0', cout, cin, 3, False)
        bn(f'backbone.spm.{name}.1', cout)
    for name, cin in (('fc1', i), ('fc2', 2 * i), ('fc3', 4 * i), ('fc4', 4 * i)):
        conv(f'backbone.spm.{name}', C, cin, 1, True)
    hidden = int(C * a['cffn_ratio'])

    def extractor(name: str) -> None:
        vec(f'{name}.query_norm', C)
        vec(f'{name}.feat_norm', C)
        msda(f'{name}.attn', C, a['deform_heads'], 1, a['points'], a['deform_ratio'])
        linear(f'{name}.ffn.fc1', hidden, C)
        conv(f'{name}.ffn.dwconv.dwconv', hidden, 1, 3, True)
        linear(f'{name}.ffn.fc2', C, hidden)
        vec(f'{name}.ffn_norm', C)

    for s in range(a['stages']):
        b = f'backbone.interactions.{s}'
        vec(f'{b}.injector.query_norm', C)
        vec(f'{b}.injector.feat_norm', C)
        msda(f'{b}.injector.attn', C, a['deform_heads'], 3, a['points'], a['deform_ratio'])
        sd[f'{b}.injector.gamma'] = (C, )
        extractor(f'{b}.extractor')
        if s == a['stages'] - 1:
            for e in range(2):
                extractor(f'{b}.extra_extractors.{e}')
    sd['backbone.up.weight'], sd['backbone.up.bias'] = (C, C, 2, 2), (C, )
    for n in range(1, 5):
        bn(f'backbone.norm{n}', C)
    # -- Mask2FormerHead
    Fd, L = a['feat'], a['levels']
    pd = 'decode_head.pixel_decoder'
    for lvl in range(L):  # the three coarsest inputs (strides 32, 16, 8)
        conv(f'{pd}.input_convs.{lvl}.conv', Fd, C, 1, True)
        vec(f'{pd}.input_convs.{lvl}.gn', Fd)
    for j in range(a['enc_layers']):
        b = f'{pd}.encoder.layers.{j}'
        msda(f'{b}.attentions.0', Fd, a['enc_heads'], L, a['enc_points'], 1.0)
        linear(f'{b}.ffns.0.layers.0.0', a['ffn'], Fd)
        linear(f'{b}.ffns.0.layers.1', Fd, a['ffn'])
        vec(f'{b}.norms.0', Fd)
        vec(f'{b}.norms.1', Fd)
    sd[f'{pd}.level_encoding.weight'] = (L, Fd)
    conv(f'{pd}.lateral_convs.0.conv', Fd, C, 1, False)
    vec(f'{pd}.lateral_convs.0.gn', Fd)
    conv(f'{pd}.output_convs.0.conv', Fd, Fd, 3, False)
    vec(f'{pd}.output_convs.0.gn', Fd)
    conv(f'{pd}.mask_feature', Fd, Fd, 1, True)
    td = 'decode_head.transformer_decoder'
    for j in range(a['dec_layers']):
        b = f'{td}.layers.{j}'
        for n in range(2):  # 0: cross_attn, 1: self_attn (operation_order)
            sd[f'{b}.attentions.{n}.attn.in_proj_weight'] = (3 * Fd, Fd)
            sd[f'{b}.attentions.{n}.attn.in_proj_bias'] = (3 * Fd, )
            linear(f'{b}.attentions.{n}.attn.out_proj', Fd, Fd)
        linear(f'{b}.ffns.0.layers.0.0', a['ffn'], Fd)
        linear(f'{b}.ffns.0.layers.1', Fd, a['ffn'])
        for n in range(3):
            vec(f'{b}.norms.{n}', Fd)
    vec(f'{td}.post_norm', Fd)
    sd['decode_head.query_embed.weight'] = (a['queries'], Fd)
    sd['decode_head.query_feat.weight'] = (a['queries'], Fd)
    sd['decode_head.level_embed.weight'] = (L, Fd)
    linear('decode_head.cls_embed', num_classes + 1, Fd)
    for n in (0, 2, 4):
        linear(f'decode_head.mask_embed.{n}', Fd, Fd)
    return sd


def official_state_dict(num_classes: int, seed: int = 0) -> Dict[str, torch.Tensor]:
    """Random tensors in the official layout; every tensor holds distinct values."""
    g = torch.Generator().manual_seed(seed)
    sd = {}
    for k, shape in official_segmenter_shapes(TINY, num_classes).items():
        if k.endswith('num_batches_tracked'):
            sd[k] = torch.randint(1, 10**9, (), generator=g)
        elif k.endswith('running_var'):
            sd[k] = torch.rand(shape, generator=g) + 0.5
        else:
            sd[k] = torch.randn(shape, generator=g) * 0.1
    return sd


def tiny_paper_segmenter(config: str):
    """The segmenter of a paper config with the TINY widths/depths (eval mode, BN)."""
    from mmseg.registry import MODELS
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'seg', config))
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    m = cfg.model.module if cfg.model.type == 'SegTTAModel' else cfg.model
    a = TINY
    vit = m.backbone.vit
    vit.update(arch=dict(embed_dims=a['embed'], num_layers=a['depth'], num_heads=a['heads'],
                         feedforward_channels=a['mlp']), img_size=a['img'], with_cp=False)
    vit.pop('init_cfg')
    m.backbone.update(with_cp=False, norm_cfg=dict(type='BN'))
    h = m.decode_head
    h.update(in_channels=[a['embed']] * 4, feat_channels=a['feat'], out_channels=a['feat'])
    h.pixel_decoder.encoder.layer_cfg.self_attn_cfg.embed_dims = a['feat']
    h.pixel_decoder.encoder.layer_cfg.ffn_cfg.update(embed_dims=a['feat'],
                                                     feedforward_channels=a['ffn'])
    h.pixel_decoder.positional_encoding.num_feats = a['feat'] // 2
    h.positional_encoding.num_feats = a['feat'] // 2
    lc = h.transformer_decoder.layer_cfg
    lc.self_attn_cfg.embed_dims = lc.cross_attn_cfg.embed_dims = a['feat']
    lc.ffn_cfg.update(embed_dims=a['feat'], feedforward_channels=a['ffn'])
    return MODELS.build(m).eval()


def _converter_cli():
    """tools/model_converters/eva_to_eva_mm.py as a module (run in-process: a subprocess
    would re-import the whole stack, ~25 s on the shared CPU)."""
    path = osp.join(ROOT, 'tools', 'model_converters', 'eva_to_eva_mm.py')
    spec = importlib.util.spec_from_file_location('eva_to_eva_mm', path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _digest(t: torch.Tensor) -> str:
    return hashlib.sha1(t.detach().contiguous().numpy().tobytes()).hexdigest()


@pytest.mark.parametrize('config,num_classes', [('eva_mask2former_cocostuff.py', 171),
                                                ('eva_mask2former_ade20k.py', 150)])
def test_cli_converts_and_strict_loads(tmp_path, capsys, config, num_classes):
    """The official layout -> the CLI -> strict load into the paper config's model, every
    official tensor in exactly one model tensor (by content), nothing dropped."""
    model = tiny_paper_segmenter(config)
    off = official_state_dict(num_classes)
    src, dst = tmp_path / 'official.pth', tmp_path / 'converted.pth'
    torch.save({'meta': {'mmseg_version': '0.20.2'}, 'state_dict': off}, src)
    assert _converter_cli().main([str(src), str(dst)]) == 0
    stdout = capsys.readouterr().out
    assert 'layout: eva01_seg (whole model)' in stdout and 'dropped' not in stdout
    assert f'{num_classes} classes' in stdout and config in stdout
    sd = torch.load(dst, weights_only=True)['state_dict']
    assert len(sd) == len(off) == len(model.state_dict())
    res = model.load_state_dict(sd, strict=True)
    assert not res.missing_keys and not res.unexpected_keys
    where = {}
    for k, t in model.state_dict().items():
        where.setdefault((_digest(t), tuple(t.shape)), []).append(k)
    for k, t in off.items():
        assert len(where.get((_digest(t), tuple(t.shape)), [])) == 1, k


def _name_of(model: torch.nn.Module, tensor: torch.Tensor) -> str:
    return next(n for n, t in model.state_dict(keep_vars=True).items() if t is tensor)


def test_perturbing_one_official_key_changes_the_intended_module():
    model = tiny_paper_segmenter('eva_mask2former_ade20k.py')
    bb, head = model.backbone, model.decode_head
    pd, td = head.pixel_decoder, head.transformer_decoder
    cases = {  # official key -> the eva_mm tensor it must land in
        'backbone.pos_embed': bb.vit.pos_embed,
        'backbone.blocks.2.attn.qkv.weight': bb.vit.blocks[2].attn.qkv.weight,
        'backbone.blocks.3.attn.v_bias': bb.vit.blocks[3].attn.v_bias,
        'backbone.spm.stem.4.running_mean': bb.spm.stem[4].running_mean,
        'backbone.interactions.0.injector.gamma': bb.stages[0].injector.gamma,
        'backbone.interactions.2.extractor.attn.value_proj.weight':
        bb.stages[2].extractor.attn.value_proj.weight,
        'backbone.interactions.3.extra_extractors.1.ffn.dwconv.dwconv.weight':
        bb.stages[3].extra_extractors[1].ffn.dwconv.dwconv.weight,
        'backbone.norm1.weight': bb.out_norms[0].weight,
        'backbone.norm4.running_var': bb.out_norms[3].running_var,
        'decode_head.pixel_decoder.encoder.layers.5.attentions.0.sampling_offsets.weight':
        pd.encoder.layers[5].self_attn.sampling_offsets.weight,
        'decode_head.pixel_decoder.encoder.layers.0.ffns.0.layers.1.weight':
        pd.encoder.layers[0].ffn.layers[1].weight,
        'decode_head.transformer_decoder.layers.1.attentions.0.attn.in_proj_weight':
        td.layers[1].cross_attn.attn.in_proj_weight,
        'decode_head.transformer_decoder.layers.1.attentions.1.attn.out_proj.bias':
        td.layers[1].self_attn.attn.out_proj.bias,
        'decode_head.transformer_decoder.layers.7.norms.2.weight': td.layers[7].norms[2].weight,
        'decode_head.level_embed.weight': head.level_embed.weight,
        'decode_head.pixel_decoder.level_encoding.weight': pd.level_encoding.weight,
    }
    off = official_state_dict(150)
    model.load_state_dict(convert_eva01_segmenter(off)[0], strict=True)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    for key, target in cases.items():
        pert = dict(off)
        pert[key] = off[key] + 1
        model.load_state_dict(convert_eva01_segmenter(pert)[0], strict=True)
        changed = [k for k, v in model.state_dict().items() if not torch.equal(v, before[k])]
        assert changed == [_name_of(model, target)], (key, changed)
    model.load_state_dict(convert_eva01_segmenter(off)[0], strict=True)


def test_cls_token_has_no_position_embedding_as_official():
    """The official BEiTAdapter adds pos_embed[:, 1:] to the patches only: its cls slot must
    not change the features (it does with cls_pos_embed=True, the plain ViT's way)."""
    model = tiny_paper_segmenter('eva_mask2former_ade20k.py')
    off = official_state_dict(150)
    img = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(1))

    def features(sd: dict, cls_pos: bool) -> torch.Tensor:
        model.load_state_dict(convert_eva01_segmenter(sd)[0], strict=True)
        model.backbone.cls_pos_embed = cls_pos
        with torch.no_grad():
            return torch.cat([o.flatten() for o in model.backbone(img)])

    slot0, slot1 = dict(off), dict(off)
    noise = torch.randn(off['backbone.pos_embed'].shape[-1])  # not constant: LN would remove it
    slot0['backbone.pos_embed'] = off['backbone.pos_embed'].clone()
    slot0['backbone.pos_embed'][:, 0] += noise
    slot1['backbone.pos_embed'] = off['backbone.pos_embed'].clone()
    slot1['backbone.pos_embed'][:, 1] += noise
    ref = features(off, False)
    assert torch.isfinite(ref).all()
    assert torch.equal(features(slot0, False), ref)
    assert not torch.allclose(features(slot1, False), ref)
    assert not torch.allclose(features(slot0, True), features(off, True))


def test_converted_segmenter_predicts_with_official_test_order():
    """The whole converted model runs; eva_mm.Mask2FormerHead.predict forms the class map at
    stride 4 and then resizes it (the official order), unlike mmseg's head."""
    from mmseg.models.decode_heads import Mask2FormerHead as MMSegHead
    from mmseg.structures import SegDataSample
    model = tiny_paper_segmenter('eva_mask2former_cocostuff.py')
    model.load_state_dict(convert_eva01_segmenter(official_state_dict(171))[0], strict=True)
    with torch.no_grad():  # trained-like mask logits (|x| >> 1), where the sigmoid is curved
        model.decode_head.mask_embed[4].weight.mul_(100)
    img = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    metas = [dict(img_shape=(64, 64), ori_shape=(64, 64))]
    with torch.no_grad():
        feats = model.extract_feat(img)
        out = model.decode_head.predict(feats, metas, model.test_cfg)
        cls, masks = model.decode_head(feats, [SegDataSample(metainfo=metas[0])])
        mmseg_out = MMSegHead.predict(model.decode_head, feats, metas, model.test_cfg)
    assert out.shape == (1, 171, 64, 64) and torch.isfinite(out).all()
    assert masks[-1].shape[-2:] == (16, 16)
    stride4 = torch.einsum('bqc,bqhw->bchw', cls[-1].softmax(-1)[..., :-1], masks[-1].sigmoid())
    torch.testing.assert_close(out, F.interpolate(stride4, size=(64, 64), mode='bilinear',
                                                  align_corners=False))
    assert masks[-1].abs().mean() > 1
    assert (out - mmseg_out).abs().max() > 1e-3


def test_layout_detection_and_hook():
    from mmengine.logging import MMLogger

    from eva_mm.engine import ConvertCheckpointHook
    off = official_state_dict(150)
    assert detect_model_layout(off).name == 'eva01_seg'
    out, report = convert_model_state_dict(off)
    assert report.layout == 'eva01_seg' and not report.dropped
    assert not is_eva01_segmenter(out) and detect_model_layout(out) is None  # eva_mm layout
    # load_from: the hook replaces the official state dict by the converted one
    ckpt = {'meta': {}, 'state_dict': dict(off)}
    runner = type('Runner', (), {'logger': MMLogger.get_current_instance()})()
    ConvertCheckpointHook().after_load_checkpoint(runner, ckpt)
    assert ckpt['meta']['converted_from'] == 'eva01_seg' and set(ckpt['state_dict']) == set(out)


def test_bad_checkpoints_name_the_keys():
    off = official_state_dict(150)
    bad = dict(off, **{'backbone.interactions.0.injector.attn.extra.weight': torch.zeros(1),
                       'decode_head.conv_seg.weight': torch.zeros(1)})
    with pytest.raises(CheckpointError, match=r'2 key\(s\).*injector\.attn\.extra\.weight'):
        convert_eva01_segmenter(bad)
    relpos = dict(off, **{'backbone.blocks.0.attn.relative_position_bias_table': torch.zeros(3)})
    with pytest.raises(CheckpointError, match='relative position bias is not supported.*'
                       r'blocks\.0\.attn\.relative_position_bias_table'):
        convert_eva01_segmenter(relpos)
    # a missing official key: strict loading names the eva_mm key left without weights
    model = tiny_paper_segmenter('eva_mask2former_ade20k.py')
    partial = {k: v for k, v in off.items() if k != 'decode_head.query_feat.weight'}
    with pytest.raises(RuntimeError, match=r'Missing key\(s\).*decode_head\.query_feat\.weight'):
        model.load_state_dict(convert_eva01_segmenter(partial)[0], strict=True)


@pytest.mark.parametrize('config,num_classes', [('eva_mask2former_cocostuff.py', 171),
                                                ('eva_mask2former_ade20k.py', 150)])
def test_paper_size_layout_matches_the_paper_model(config, num_classes):
    """At the released checkpoints' size (EVA-g 40 blocks at 896 / patch 16, 1024-wide head, 8
    decoder layers, 200 queries): the official names and shapes convert to exactly the paper
    config's state dict (built on the meta device), shape for shape."""
    from mmseg.registry import MODELS
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'seg', config))
    init_default_scope('mmseg')
    cfg.model.backbone.vit.pop('init_cfg')
    with torch.device('meta'):
        model = MODELS.build(cfg.model)
    paper = dict(TINY, embed=1408, depth=40, heads=16, mlp=6144, img=896, feat=1024, ffn=4096)
    off = {k: torch.empty(s, device='meta')
           for k, s in official_segmenter_shapes(paper, num_classes).items()}
    assert len(off) == 1037
    out, _ = convert_eva01_segmenter(off)
    own = model.state_dict()
    assert set(out) == set(own)
    bad = [(k, tuple(v.shape), tuple(own[k].shape)) for k, v in out.items()
           if v.shape != own[k].shape]
    assert not bad, bad[:5]
