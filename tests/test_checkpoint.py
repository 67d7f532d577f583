"""Checkpoint conversion: parity with timm / open_clip references and loud failures.

References no one here wrote: timm's ``Eva`` (the exact EVA-01/EVA-02 architecture) and
open_clip's timm vision tower (EVA-CLIP ``EVA01-g-14`` layout, ``visual.trunk.``). Their random
weights are written in the official layouts, converted, loaded into EVAViT, and the
final-norm tokens compared (fp32, max abs diff <= 1e-4).
"""
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import timm
import torch
from timm.models import register_model
from timm.models.eva import Eva, _create_eva

from eva_mm.models import (CheckpointError, EVAViT, convert_state_dict, load_pretrained,
                           read_checkpoint)
from eva_mm.models.checkpoint import load_state_dict_into

ROOT = Path(__file__).resolve().parents[1]
TINY_G = dict(embed_dims=64, num_layers=2, num_heads=4, feedforward_channels=96)


@register_model
def eva_mm_test_tiny_patch14_224(pretrained: bool = False, **kwargs) -> Eva:
    """An EVA-g-shaped (q/v bias, GELU MLP, cls + abs pos) but tiny timm Eva."""
    args = dict(img_size=224, patch_size=14, embed_dim=64, depth=2, num_heads=4,
                mlp_ratio=96 / 64)
    return _create_eva('eva_giant_patch14_224', pretrained=False, **dict(args, **kwargs))


def _randomize(model: torch.nn.Module, fp16_exact: bool = False) -> None:
    torch.manual_seed(0)
    for p in model.parameters():
        p.data.normal_(0, 0.05)
        if fp16_exact:  # official MIM checkpoints are fp16: make the weights representable
            p.data = p.data.half().float()


def _tokens(model: EVAViT, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model.eval()(x)[0]


def test_official_mim_layout_matches_timm(tmp_path):
    ref = timm.create_model('eva_mm_test_tiny_patch14_224', num_classes=0, global_pool='')
    _randomize(ref, fp16_exact=True)
    sd = {k: v.half() for k, v in ref.state_dict().items()}
    sd['mask_token'] = torch.zeros(1, 1, 64, dtype=torch.half)
    sd['lm_head.weight'] = torch.randn(768, 64).half()
    sd['lm_head.bias'] = torch.zeros(768).half()
    path = tmp_path / 'eva_psz14.pt'
    torch.save({'model': sd}, path)
    m = EVAViT(TINY_G, img_size=224, patch_size=14, use_mask_token=True)
    missing, unexpected = load_pretrained(m, str(path), strict=True)
    assert missing == [] and unexpected == []
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        expect = ref.eval().forward_features(x)
    assert (expect - _tokens(m, x)).abs().max() <= 1e-4


def test_open_clip_eva_clip_layout_matches_trunk(tmp_path):
    import open_clip
    cfg = dict(embed_dim=32,
               vision_cfg=dict(image_size=224, timm_model_name='eva_mm_test_tiny_patch14_224',
                               timm_model_pretrained=False, timm_pool='token', timm_proj=None),
               text_cfg=dict(context_length=16, vocab_size=100, width=32, heads=2, layers=1))
    clip = open_clip.model.CustomTextCLIP(**cfg)
    _randomize(clip)
    path = tmp_path / 'eva_clip.pt'
    torch.save(clip.state_dict(), path)
    sd, report = convert_state_dict(read_checkpoint(str(path)))
    assert report.layout == 'open_clip'
    assert any(k.startswith('text.') for k in report.dropped)
    m = EVAViT(TINY_G, img_size=224, patch_size=14)
    load_pretrained(m, str(path), strict=True)
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        expect = clip.visual.trunk.eval().forward_features(x)
    assert (expect - _tokens(m, x)).abs().max() <= 1e-4


@pytest.mark.parametrize('name,arch,official', [
    ('eva02_tiny_patch14_224', 'eva02-t', True),   # packed SwiGLU w12 -> fc1_g/fc1_x
    ('eva02_base_patch14_224', 'eva02-b', True),   # separate q/k/v proj, MLP sub-LN
    ('eva02_base_patch14_224', 'eva02-b', False),  # timm key names
])
def test_eva02_matches_timm(tmp_path, name, arch, official):
    ref = timm.create_model(name, depth=2, num_classes=0, global_pool='')
    _randomize(ref)
    sd = ref.state_dict()
    if official:  # official EVA-02 names (timm's checkpoint_filter_fn reverses these)
        ren = {'mlp.norm.': 'mlp.ffn_ln.', 'mlp.fc1_g.': 'mlp.w1.', 'mlp.fc1_x.': 'mlp.w2.',
               'mlp.fc2.': 'mlp.w3.', 'mlp.fc1.': 'mlp.w12.'}
        out = {}
        for k, v in sd.items():
            for a, b in ren.items():
                k = k.replace(a, b)
            k = k.replace('attn.q_proj.bias', 'attn.q_bias').replace('attn.v_proj.bias',
                                                                     'attn.v_bias')
            out[k] = v
        out['rope.freqs_cos'] = torch.zeros(256, 64)
        sd = {'module': out}
    path = tmp_path / 'eva02.pt'
    torch.save(sd, path)
    a = dict(EVAViT.parse_arch(arch), num_layers=2)
    m = EVAViT(a, img_size=224, patch_size=14)
    load_pretrained(m, str(path), strict=True)
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        expect = ref.eval().forward_features(x)
    assert (expect - _tokens(m, x)).abs().max() <= 1e-4


def test_eva02_clip_tower_loads_strictly_without_rope_buffers():
    """An EVA02-CLIP checkpoint (official EVA-CLIP ``eva_vit_model.py`` layout under
    ``visual.``: q/k/v projections + q_bias/v_bias, SwiGLU w1/w2/w3, sub-LN ``inner_attn_ln`` /
    ``ffn_ln``, the shared RoPE module's buffers at ``visual.rope.*`` and again under every
    block as ``visual.blocks.N.attn.rope.freqs_cos/sin``, the projection ``visual.head``, a
    text tower): the derived RoPE buffers are dropped and reported, the rest loads strictly and
    gives timm's outputs."""
    ref = timm.create_model('eva02_base_patch14_224', depth=2, num_classes=0, global_pool='',
                            scale_attn_inner=True)
    _randomize(ref)
    ren = {'mlp.norm.': 'mlp.ffn_ln.', 'attn.norm.': 'attn.inner_attn_ln.', 'mlp.fc1_g.': 'mlp.w1.',
           'mlp.fc1_x.': 'mlp.w2.', 'mlp.fc2.': 'mlp.w3.'}
    sd = {}
    for k, v in ref.state_dict().items():
        for a, b in ren.items():
            k = k.replace(a, b)
        k = k.replace('attn.q_proj.bias', 'attn.q_bias').replace('attn.v_proj.bias', 'attn.v_bias')
        sd[f'visual.{k}'] = v
    rope = {'freqs_cos': torch.randn(256, 64), 'freqs_sin': torch.randn(256, 64)}
    for n, t in rope.items():
        sd[f'visual.rope.{n}'] = t
        for i in range(2):
            sd[f'visual.blocks.{i}.attn.rope.{n}'] = t
    sd['visual.head.weight'] = torch.randn(512, 768)
    sd['visual.head.bias'] = torch.zeros(512)
    sd['text.token_embedding.weight'] = torch.randn(100, 512)
    sd['logit_scale'] = torch.tensor(4.6)
    out, report = convert_state_dict(sd)
    assert report.layout == 'open_clip'
    rope_keys = sorted(k for k, r in report.dropped.items() if r.startswith('RoPE'))
    assert rope_keys == sorted(k for k in sd if '.rope.' in k) and len(rope_keys) == 6
    assert not any('rope' in k for k in out)
    arch = dict(EVAViT.parse_arch('eva02-b'), num_layers=2, attn_norm=True)
    m = EVAViT(arch, img_size=224, patch_size=14)
    missing, unexpected = load_state_dict_into(m, out, strict=True)
    assert missing == [] and unexpected == []
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        expect = ref.eval().forward_features(x)
    assert (expect - _tokens(m, x)).abs().max() <= 1e-4
    # before the fix the per-block buffers were unexpected keys: a strict load must name them
    with pytest.raises(CheckpointError, match=r'unexpected keys \[.blocks.0.attn.rope.freqs_cos'):
        load_state_dict_into(m, dict(out, **{'blocks.0.attn.rope.freqs_cos': rope['freqs_cos']}),
                             strict=True)


def test_converter_cli_14_to_16_and_grid(tmp_path):
    ref = timm.create_model('eva_mm_test_tiny_patch14_224', num_classes=0, global_pool='')
    _randomize(ref)
    sd = ref.state_dict()
    sd['head.weight'] = torch.zeros(10, 64)
    src, dst = tmp_path / 'ft.pth', tmp_path / 'out' / 'eva_p16.pth'
    torch.save({'model': sd, 'model_ema': sd}, src)
    proc = subprocess.run([sys.executable, str(ROOT / 'tools/model_converters/eva_to_eva_mm.py'),
                           str(src), str(dst), '--patch-size', '16', '--img-size', '1024', '--ema'],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert 'layout: finetuned' in proc.stdout and 'classification head' in proc.stdout
    out = torch.load(dst, weights_only=True)['state_dict']
    assert all(k.startswith('backbone.') for k in out)
    assert out['backbone.patch_embed.proj.weight'].shape == (64, 3, 16, 16)
    assert out['backbone.pos_embed'].shape == (1, 1 + 64 * 64, 64)
    expect = torch.nn.functional.interpolate(sd['patch_embed.proj.weight'], size=(16, 16),
                                             mode='bicubic', align_corners=False)
    assert torch.allclose(out['backbone.patch_embed.proj.weight'], expect)
    # loads into a ViTDet-style detector backbone (no cls token) through init_cfg
    det = EVAViT(TINY_G, img_size=1024, patch_size=16, with_cls_token=False,
                 out_type='featmap', init_cfg=dict(type='Pretrained', checkpoint=str(dst)))
    det.init_weights()
    assert torch.equal(det.pos_embed, out['backbone.pos_embed'])
    assert torch.equal(det.blocks[1].attn.qkv.weight, sd['blocks.1.attn.qkv.weight'])


def test_pos_grid_resized_on_load(tmp_path):
    src = EVAViT(TINY_G, img_size=224, patch_size=14)
    path = tmp_path / 'a.pth'
    torch.save({'state_dict': {f'backbone.{k}': v for k, v in src.state_dict().items()}}, path)
    big = EVAViT(TINY_G, img_size=336, patch_size=14)
    load_pretrained(big, str(path), strict=True)
    assert big.pos_embed.shape == (1, 1 + 24 * 24, 64)
    x = torch.randn(1, 3, 336, 336)
    # the resized checkpoint at 336 == the original model run at 336 (it resizes on the fly)
    assert torch.allclose(_tokens(big, x), _tokens(src, x), atol=1e-5)


def test_bad_checkpoints_fail_loudly(tmp_path, caplog):
    m = EVAViT(TINY_G, img_size=224, patch_size=14)
    with pytest.raises(FileNotFoundError, match='checkpoint file not found'):
        load_pretrained(m, str(tmp_path / 'nope.pth'))
    corrupt = tmp_path / 'corrupt.pth'
    good = tmp_path / 'good.pth'
    torch.save({'model': m.state_dict()}, good)
    corrupt.write_bytes(good.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match='could not read checkpoint .*corrupt.pth'):
        load_pretrained(m, str(corrupt))
    other = tmp_path / 'resnet.pth'
    torch.save({'state_dict': {'conv1.weight': torch.zeros(1)}}, other)
    with pytest.raises(CheckpointError, match='unrecognised checkpoint layout'):
        load_pretrained(m, str(other))
    wrong = dict(m.state_dict())
    wrong['blocks.0.mlp.fc1.weight'] = torch.zeros(50, 64)
    bad_shape = tmp_path / 'shape.pth'
    torch.save(wrong, bad_shape)
    with pytest.raises(CheckpointError,
                       match=r'shape mismatch for blocks.0.mlp.fc1.weight: checkpoint \(50, 64\)'
                       r', model \(96, 64\)'):
        load_pretrained(m, str(bad_shape))
    partial = dict(m.state_dict())
    partial.pop('blocks.1.norm2.weight')
    partial['blocks.7.extra'] = torch.zeros(1)
    part = tmp_path / 'partial.pth'
    torch.save(partial, part)
    missing, unexpected = load_pretrained(m, str(part))
    assert missing == ['blocks.1.norm2.weight'] and unexpected == ['blocks.7.extra']
    with pytest.raises(CheckpointError, match='strict loading failed'):
        load_pretrained(m, str(part), strict=True)
    with pytest.raises(CheckpointError, match='no model_ema'):
        load_pretrained(m, str(good), use_ema=True)


class _Payload:
    def __reduce__(self):
        return (subprocess.call, (['touch', '/tmp/eva_mm_pwned_ckpt'], ))


def test_pickle_payload_is_refused(tmp_path):
    marker = Path('/tmp/eva_mm_pwned_ckpt')
    marker.unlink(missing_ok=True)
    path = tmp_path / 'evil.pth'
    with open(path, 'wb') as f:
        pickle.dump({'model': {'pos_embed': torch.zeros(1)}, 'x': _Payload()}, f)
    with pytest.raises(CheckpointError, match='refusing to load'):
        read_checkpoint(str(path))
    assert not marker.exists()


def test_released_classifier_keeps_its_head_through_load_from(tmp_path):
    """An official fine-tuned classifier (fc_norm + head, unprefixed) converts to the mmpretrain
    ImageClassifier of the paper config, head included, and loads strictly."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import MODELS as CLS_MODELS
    from eva_mm.engine import ConvertCheckpointHook
    from eva_mm.models.checkpoint import convert_model_state_dict
    cfg = Config.fromfile(str(ROOT / 'configs' / 'cls' / 'eva_in1k_336.py'))
    cfg.model.backbone.update(arch=dict(embed_dims=64, num_layers=2, num_heads=2,
                                        feedforward_channels=128), init_cfg=None, with_cp=False)
    cfg.model.head.update(in_channels=64, num_classes=7)
    init_default_scope('mmpretrain')
    model = CLS_MODELS.build(cfg.model)
    own = model.state_dict()
    official = {k[len('backbone.'):]: torch.randn_like(v) for k, v in own.items()
                if k.startswith('backbone.')}
    official['head.weight'] = torch.randn(7, 64)
    official['head.bias'] = torch.randn(7)
    out, report = convert_model_state_dict(official)
    assert report.layout == 'eva01_cls'
    model.load_state_dict(out, strict=True)
    assert torch.equal(model.head.fc.weight, official['head.weight'])
    # the same through load_from / tools/test.py (ConvertCheckpointHook)
    ckpt = {'model': official}

    class _Runner:
        logger = __import__('logging').getLogger('test')

    ConvertCheckpointHook().after_load_checkpoint(_Runner(), ckpt)
    assert set(ckpt['state_dict']) == set(own)
