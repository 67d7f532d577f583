"""ViT-Adapter for EVAViT: block split, output geometry, deformable attention, init."""
import math

import pytest
import torch
from mmcv.ops import MultiScaleDeformableAttention

from eva_mm.models import EVAViT
from eva_mm.seg import EVAAdapter, split_blocks
from eva_mm.seg.vit_adapter import Extractor, Injector, grid_reference_points

TINY = dict(embed_dims=32, num_layers=4, num_heads=2, feedforward_channels=64)


pytestmark = pytest.mark.usefixtures('one_thread')  # conftest.py


def tiny_adapter(**kw) -> EVAAdapter:
    vit = dict(arch=TINY, img_size=32, patch_size=16)
    vit.update(kw.pop('vit', {}))
    args = dict(vit=vit, num_stages=2, conv_inplane=8, deform_num_heads=2, num_points=2,
                num_extra_extractors=1)
    args.update(kw)
    return EVAAdapter(**args)


def test_split_blocks():
    assert split_blocks(40, 4) == [(0, 9), (10, 19), (20, 29), (30, 39)]
    assert split_blocks(24, 4) == [(0, 5), (6, 11), (12, 17), (18, 23)]
    assert split_blocks(5, 2) == [(0, 2), (3, 4)]
    with pytest.raises(ValueError, match='cannot split 3 blocks into 4'):
        split_blocks(3, 4)
    with pytest.raises(ValueError, match='num_stages must be positive'):
        split_blocks(3, 0)


def test_stages_cover_all_blocks_and_gates_start_at_zero():
    m = tiny_adapter()
    assert [(s.first_block, s.last_block) for s in m.stages] == [(0, 1), (2, 3)]
    assert len(m.stages[-1].extra_extractors) == 1 and len(m.stages[0].extra_extractors) == 0
    for s in m.stages:
        assert torch.count_nonzero(s.injector.gamma) == 0
        assert isinstance(s.injector.attn, MultiScaleDeformableAttention)
        assert s.injector.attn.num_levels == 3 and s.extractor.attn.num_levels == 1
    # the ViT is the shared EVAViT, not a copy
    assert type(m.vit) is EVAViT
    assert not any(isinstance(x, EVAViT) for n, x in m.named_modules() if n not in ('vit', ))


@pytest.mark.parametrize('patch,hw', [(16, (97, 131)), (14, (97, 131)), (16, (64, 32))])
def test_output_shapes_odd_sizes(patch, hw):
    torch.manual_seed(0)
    m = tiny_adapter(vit=dict(patch_size=patch, img_size=2 * patch)).eval()
    H, W = hw
    with torch.no_grad():
        outs = m(torch.randn(2, 3, H, W))
    assert len(outs) == 4
    for o, s in zip(outs, (4, 8, 16, 32)):
        assert o.shape == (2, 32, math.ceil(H / s), math.ceil(W / s)), (o.shape, s)
        assert torch.isfinite(o).all()


def test_backward_reaches_vit_and_gates():
    torch.manual_seed(0)
    m = tiny_adapter().train()
    outs = m(torch.randn(1, 3, 40, 70))
    sum(o.square().mean() for o in outs).backward()
    assert m.vit.blocks[0].attn.qkv.weight.grad.abs().sum() > 0
    assert m.vit.patch_embed.proj.weight.grad.abs().sum() > 0
    assert m.spm.stem[0].weight.grad.abs().sum() > 0
    # gamma starts at 0, so only the gate itself (not the attention behind it) gets gradient
    assert m.stages[0].injector.gamma.grad.abs().sum() > 0
    assert m.stages[0].extractor.attn.value_proj.weight.grad.abs().sum() > 0


@pytest.mark.parametrize('cls_pos_embed', [False, True])
def test_zero_gate_leaves_vit_tokens_unchanged(cls_pos_embed):
    """With gamma = 0 the injector is the identity: the ViT tokens the adapter computes equal
    a plain run of the same EVAViT, whose cls token has no position embedding unless
    ``cls_pos_embed`` (the official adapter adds ``pos_embed[:, 1:]`` to the patches only)."""
    torch.manual_seed(0)
    m = tiny_adapter(add_vit_feature=False, cls_pos_embed=cls_pos_embed).eval()
    img = torch.randn(1, 3, 64, 96)
    seen = []
    h = m.stages[-1].extractor.register_forward_pre_hook(lambda mod, args: seen.append(args[1]))
    with torch.no_grad():
        m(img)
        tokens, hw = m.vit.embed(img)
        if not cls_pos_embed:
            tokens = torch.cat((m.vit.cls_token, tokens[:, 1:]), dim=1)
        for i in range(m.vit.num_layers):
            tokens = m.vit.run_block(i, tokens, hw)
    h.remove()
    torch.testing.assert_close(seen[0], tokens[:, 1:])


def test_reference_points():
    ref = grid_reference_points([(2, 3)], [16], (32, 48), torch.device('cpu'))
    assert ref.shape == (1, 6, 1, 2)
    # (x, y) of the first and last cell centres
    torch.testing.assert_close(ref[0, 0, 0], torch.tensor([8 / 48, 8 / 32]))
    torch.testing.assert_close(ref[0, -1, 0], torch.tensor([40 / 48, 24 / 32]))


def test_deformable_inputs_match_the_official_adapter():
    """For an input that is a multiple of 32 (patch 16), the reference points, spatial shapes
    and level starts the injector and extractor receive equal the official ViT-Adapter's
    ``deform_inputs``: cell centres ``(i + 0.5) / n`` of each level's own grid, as (x, y)."""
    m = tiny_adapter(vit=dict(img_size=64)).eval()
    got = {}

    def grab(name):
        def hook(mod, args, kwargs):
            got[name] = (kwargs['reference_points'], kwargs['spatial_shapes'],
                         kwargs['level_start_index'])
        return hook

    m.stages[0].injector.attn.register_forward_pre_hook(grab('inj'), with_kwargs=True)
    m.stages[0].extractor.attn.register_forward_pre_hook(grab('ext'), with_kwargs=True)
    H, W = 64, 96
    with torch.no_grad():
        m(torch.randn(1, 3, H, W))

    def centres(shapes):
        pts = []
        for h, w in shapes:
            y, x = torch.meshgrid((torch.arange(h) + 0.5) / h, (torch.arange(w) + 0.5) / w,
                                  indexing='ij')
            pts.append(torch.stack((x.flatten(), y.flatten()), -1))
        return torch.cat(pts)

    pyramid, vit = [(H // 8, W // 8), (H // 16, W // 16), (H // 32, W // 32)], (H // 16, W // 16)
    ref, shapes, start = got['inj']
    assert shapes.tolist() == [list(s) for s in pyramid]
    assert start.tolist() == [0, 8 * 12, 8 * 12 + 4 * 6]
    for lvl in range(3):  # the same ViT-cell centre on every level
        torch.testing.assert_close(ref[0, :, lvl], centres([vit]))
    ref, shapes, start = got['ext']
    assert shapes.tolist() == [list(vit)] and start.tolist() == [0]
    torch.testing.assert_close(ref[0, :, 0], centres(pyramid))


def _bilinear_zero_pad(v: torch.Tensor, x: float, y: float) -> torch.Tensor:
    """Sample v (C, H, W) at normalised (x, y) in [0, 1] (align_corners=False, zero outside),
    written out by hand."""
    C, H, W = v.shape
    px, py = x * W - 0.5, y * H - 0.5
    x0, y0 = math.floor(px), math.floor(py)
    out = torch.zeros(C, dtype=v.dtype)
    for yy, wy in ((y0, 1 - (py - y0)), (y0 + 1, py - y0)):
        for xx, wx in ((x0, 1 - (px - x0)), (x0 + 1, px - x0)):
            if 0 <= yy < H and 0 <= xx < W:
                out += wy * wx * v[:, yy, xx]
    return out


def test_deformable_attention_cpu_path_matches_direct_computation():
    """mmcv's MultiScaleDeformableAttention on CPU (PyTorch path) == the formula computed
    point by point with hand-written bilinear sampling."""
    torch.manual_seed(0)
    dims, heads, levels, points = 8, 2, 2, 3
    shapes = [(3, 4), (2, 5)]
    attn = MultiScaleDeformableAttention(embed_dims=dims, num_heads=heads, num_levels=levels,
                                         num_points=points, dropout=0., batch_first=True,
                                         value_proj_ratio=0.5)
    with torch.no_grad():  # non-trivial offsets / weights (mmcv initialises weights to 0)
        for p in attn.parameters():
            p.add_(torch.randn_like(p) * 0.3)
    B, Q = 2, 4
    nv = sum(h * w for h, w in shapes)
    query, value = torch.randn(B, Q, dims), torch.randn(B, nv, dims)
    ref = torch.rand(B, Q, levels, 2)
    ss = torch.tensor(shapes, dtype=torch.long)
    start = torch.cat((ss.new_zeros(1), ss.prod(1).cumsum(0)[:-1]))
    with torch.no_grad():
        out = attn(query=query, value=value, identity=torch.zeros_like(query),
                   reference_points=ref, spatial_shapes=ss, level_start_index=start)

        v = attn.value_proj(value)  # (B, nv, dims * ratio)
        d = v.shape[-1] // heads
        off = attn.sampling_offsets(query).view(B, Q, heads, levels, points, 2)
        aw = attn.attention_weights(query).view(B, Q, heads, levels * points).softmax(-1)
        aw = aw.view(B, Q, heads, levels, points)
        expect = torch.zeros(B, Q, heads * d)
        for b in range(B):
            for q in range(Q):
                for h in range(heads):
                    acc = torch.zeros(d)
                    for lv, (H, W) in enumerate(shapes):
                        s = start[lv].item()
                        vmap = v[b, s:s + H * W, h * d:(h + 1) * d].T.reshape(d, H, W)
                        for p in range(points):
                            x = ref[b, q, lv, 0] + off[b, q, h, lv, p, 0] / W
                            y = ref[b, q, lv, 1] + off[b, q, h, lv, p, 1] / H
                            acc += aw[b, q, h, lv, p] * _bilinear_zero_pad(vmap, x.item(),
                                                                            y.item())
                    expect[b, q, h * d:(h + 1) * d] = acc
        expect = attn.output_proj(expect)
    torch.testing.assert_close(out, expect, rtol=1e-4, atol=1e-5)


def test_injector_and_extractor_residuals():
    torch.manual_seed(0)
    inj = Injector(16, 2, 2)
    ext = Extractor(16, 2, 2)
    x, c = torch.randn(1, 4, 16), torch.randn(1, 4 + 1 + 1, 16)
    shapes = torch.tensor([(2, 2), (1, 1), (1, 1)])
    start = torch.tensor([0, 4, 5])
    ref = torch.rand(1, 4, 3, 2)
    torch.testing.assert_close(inj(x, c, ref, shapes, start), x)  # gamma = 0
    with torch.no_grad():
        inj.gamma.fill_(1.)
    assert not torch.allclose(inj(x, c, ref, shapes, start), x)
    ref_e = torch.rand(1, 6, 1, 2)
    out = ext(c, x, ref_e, torch.tensor([(2, 2)]), torch.tensor([0]), [(2, 2), (1, 1), (1, 1)])
    assert out.shape == c.shape and not torch.allclose(out, c)


def test_init_weights_loads_official_checkpoint(tmp_path):
    """The adapter's init_weights loads vit.init_cfg (an official-layout MIM checkpoint:
    {'model': ...}, 14-px patches, 16x16 grid) into its EVAViT, resizing patch kernel and
    position grid to the adapter's patch 16."""
    torch.manual_seed(1)
    src = EVAViT(arch=TINY, img_size=224, patch_size=14, use_mask_token=True)
    ckpt = tmp_path / 'eva_mim.pt'
    torch.save({'model': src.state_dict()}, ckpt)
    m = tiny_adapter(vit=dict(img_size=64, init_cfg=dict(type='Pretrained',
                                                           checkpoint=str(ckpt))))
    before = m.spm.fc1.weight.clone()
    assert not torch.equal(m.vit.blocks[2].mlp.fc1.weight, src.blocks[2].mlp.fc1.weight)
    m.init_weights()
    torch.testing.assert_close(m.vit.blocks[2].mlp.fc1.weight, src.blocks[2].mlp.fc1.weight)
    torch.testing.assert_close(m.vit.blocks[3].attn.q_bias, src.blocks[3].attn.q_bias)
    assert m.vit.patch_embed.proj.weight.shape[-1] == 16
    assert m.vit.pos_embed.shape == (1, 1 + 4 * 4, 32)
    torch.testing.assert_close(m.spm.fc1.weight, before)  # adapter layers untouched


def test_bad_arguments():
    with pytest.raises(ValueError, match='not divisible by deform_num_heads'):
        tiny_adapter(deform_num_heads=3)
    with pytest.raises(TypeError, match='vit must be a dict'):
        EVAAdapter(vit='g')
    with pytest.raises(ValueError, match=r'expects \(B, C, H, W\)'):
        tiny_adapter()(torch.randn(3, 32, 32))
