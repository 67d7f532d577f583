"""EVAViT: presets, validation, outputs, geometry, ViTDet options, checkpointing, freezing."""
import pytest
import torch

from eva_mm.layers import (resize_pos_embed, set_fused_attn, window_partition,
                           window_unpartition)
from eva_mm.models import EVAViT, vitdet_global_blocks, vitdet_window_blocks

TINY = dict(embed_dims=32, num_layers=4, num_heads=4, feedforward_channels=64)


def test_giant_has_1011m_parameters():
    with torch.device('meta'):
        m = EVAViT('g', img_size=224, patch_size=14)
    n = sum(p.numel() for p in m.parameters())
    assert round(n / 1e6) == 1011, n
    assert (m.embed_dims, m.num_layers, len(m.blocks)) == (1408, 40, 40)
    assert m.blocks[0].mlp.fc1.out_features == 6144
    assert m.blocks[0].attn.num_heads == 16
    assert m.blocks[0].attn.qkv.bias is None and m.blocks[0].attn.q_bias is not None
    for alias in ('giant', 'eva-g', 'G'):
        assert EVAViT.parse_arch(alias) == EVAViT.parse_arch('g')


def test_arch_validation_messages():
    with pytest.raises(ValueError, match="unknown EVAViT arch 'huge-ish'"):
        EVAViT('huge-ish')
    with pytest.raises(ValueError, match=r"missing the key\(s\) \['num_heads'"):
        EVAViT(dict(embed_dims=32, num_layers=2, feedforward_channels=64))
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['depth'\]"):
        EVAViT(dict(TINY, depth=3))
    with pytest.raises(ValueError, match='embed_dims \\(30\\) must be divisible'):
        EVAViT(dict(TINY, embed_dims=30))
    with pytest.raises(ValueError, match='out_indices contains 4, out of range for 4 blocks'):
        EVAViT(TINY, out_indices=[4])
    with pytest.raises(ValueError, match="unknown out_type 'tokens'"):
        EVAViT(TINY, out_type='tokens')
    with pytest.raises(ValueError, match='window attention needs with_cls_token=False'):
        EVAViT(TINY, window_size=4, window_block_indexes=[0])
    with pytest.raises(ValueError, match='window_block_indexes given but window_size'):
        EVAViT(TINY, with_cls_token=False, window_block_indexes=[0])
    with pytest.raises(ValueError, match='not a multiple of patch_size'):
        EVAViT(TINY, img_size=100, patch_size=14)


@torch.no_grad()
def test_out_types_and_negative_indices():
    x = torch.randn(2, 3, 56, 84)  # 4 x 6 grid, non-square
    raw = EVAViT(TINY, img_size=56, out_indices=[-1, 1]).eval()
    a, b = raw(x)
    assert a.shape == (2, 1 + 24, 32) and b.shape == (2, 25, 32)
    # final norm applies to the last index only: its tokens are standardised
    assert torch.allclose(a.mean(-1), torch.zeros(2, 25), atol=1e-5)
    assert not torch.allclose(b.mean(-1), torch.zeros(2, 25), atol=1e-3)
    fm = EVAViT(TINY, img_size=56, out_type='featmap', out_indices=(0, 2, -1)).eval()
    fm.load_state_dict(raw.state_dict())
    outs = fm(x)
    assert [tuple(o.shape) for o in outs] == [(2, 32, 4, 6)] * 3
    assert torch.allclose(outs[-1], a[:, 1:].transpose(1, 2).reshape(2, 32, 4, 6))
    cls = EVAViT(TINY, img_size=56, out_type='cls_token').eval()
    cls.load_state_dict(raw.state_dict())
    assert torch.allclose(cls(x)[0], a[:, 0])
    avg = EVAViT(TINY, img_size=56, out_type='avg_featmap', final_norm=False).eval()
    assert avg(x)[0].shape == (2, 32) and hasattr(avg, 'fc_norm')


def test_pos_embed_interpolation_is_bicubic_and_identity_at_same_grid():
    pe = torch.randn(1, 1 + 16, 8)
    assert resize_pos_embed(pe, (4, 4), (4, 4)) is pe
    out = resize_pos_embed(pe, (4, 4), (6, 3))
    assert out.shape == (1, 1 + 18, 8)
    assert torch.equal(out[:, 0], pe[:, 0])
    ref = torch.nn.functional.interpolate(pe[:, 1:].reshape(1, 4, 4, 8).permute(0, 3, 1, 2),
                                          size=(6, 3), mode='bicubic', align_corners=False)
    assert torch.allclose(out[:, 1:], ref.permute(0, 2, 3, 1).reshape(1, 18, 8))
    with pytest.raises(ValueError, match='does not match the source grid'):
        resize_pos_embed(pe, (3, 3), (4, 4))


def test_window_partition_roundtrip_with_padding():
    x = torch.randn(2, 5, 7, 3)
    win, pad_hw = window_partition(x, 3)
    assert pad_hw == (6, 9) and win.shape == (2 * 2 * 3, 3, 3, 3)
    assert torch.equal(window_unpartition(win, 3, pad_hw, (5, 7)), x)


@torch.no_grad()
def test_window_covering_grid_equals_global_attention():
    """A window as large as the (unpadded) grid is global attention."""
    kw = dict(arch=TINY, img_size=64, patch_size=16, with_cls_token=False, out_type='featmap')
    glob = EVAViT(**kw).eval()
    win = EVAViT(**kw, window_size=4, window_block_indexes=[0, 1, 2, 3]).eval()
    win.load_state_dict(glob.state_dict())
    x = torch.randn(1, 3, 64, 64)
    assert torch.allclose(glob(x)[0], win(x)[0], atol=1e-5)
    # padded windows (grid 5x5, window 4) run and differ from global attention
    x = torch.randn(1, 3, 80, 80)
    assert win(x)[0].shape == (1, 32, 5, 5)


def test_vitdet_index_lists_from_depth():
    assert vitdet_global_blocks(40, 10) == list(range(3, 40, 4))
    assert vitdet_global_blocks(12, 4) == [2, 5, 8, 11]
    assert len(vitdet_window_blocks(40, 10)) == 30
    with pytest.raises(ValueError, match='cannot be split'):
        vitdet_global_blocks(10, 4)


def test_rel_pos_vitdet_forward_backward_and_fused_switch():
    m = EVAViT(TINY, img_size=64, patch_size=16, with_cls_token=False, out_type='featmap',
               window_size=2, window_block_indexes=vitdet_window_blocks(4, 2), use_rel_pos=True)
    for blk in m.blocks:  # non-zero tables so the bias matters
        torch.nn.init.normal_(blk.attn.rel_pos_h, std=0.5)
        torch.nn.init.normal_(blk.attn.rel_pos_w, std=0.5)
    m.eval()
    x = torch.randn(2, 3, 48, 80)
    with torch.no_grad():
        a = m(x)[0]
        set_fused_attn(False)
        try:
            b = m(x)[0]
        finally:
            set_fused_attn(True)
    assert a.shape == (2, 32, 3, 5)
    assert torch.allclose(a, b, atol=1e-5)
    m.train()
    m(x)[0].square().mean().backward()
    assert m.blocks[0].attn.rel_pos_h.grad.abs().sum() > 0


def test_folded_rel_pos_equals_dense_bias_values_and_gradients():
    """fold_rel_pos_into_qkv + SDPA == softmax(scale q.k + dense decomposed bias) v, also for a
    non-square grid, in the output and in the gradients of q, k, v and both tables."""
    from eva_mm.layers.rel_pos import decomposed_rel_pos_bias, fold_rel_pos_into_qkv
    torch.manual_seed(0)
    hw, d = (6, 10), 8
    q, k, v = (torch.randn(2, 3, 60, d, requires_grad=True) for _ in range(3))
    rh = (torch.randn(11, d) * .5).requires_grad_()
    rw = (torch.randn(19, d) * .5).requires_grad_()
    scale = d ** -0.5
    q2, k2, v2 = fold_rel_pos_into_qkv(q, k, v, rh, rw, hw, hw, scale)
    assert q2.shape == k2.shape == v2.shape == (2, 3, 60, d + 16)
    got = torch.nn.functional.scaled_dot_product_attention(q2, k2, v2, scale=scale)[..., :d]
    attn = (q * scale) @ k.transpose(-2, -1) + decomposed_rel_pos_bias(q, rh, rw, hw, hw)
    ref = attn.softmax(-1) @ v
    torch.testing.assert_close(got, ref, atol=1e-5, rtol=1e-5)
    w = torch.randn_like(ref)
    g = torch.autograd.grad((got * w).sum(), (q, k, v, rh, rw))
    g_ref = torch.autograd.grad((ref * w).sum(), (q, k, v, rh, rw))
    for a, b in zip(g, g_ref):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_global_rel_pos_attention_takes_the_folded_path_and_matches_math():
    from eva_mm.layers import attention as attn_mod
    m = EVAViT(TINY, img_size=64, patch_size=8, with_cls_token=False, out_type='featmap',
               window_size=4, window_block_indexes=vitdet_window_blocks(4, 2), use_rel_pos=True)
    for blk in m.blocks:
        torch.nn.init.normal_(blk.attn.rel_pos_h, std=0.5)
        torch.nn.init.normal_(blk.attn.rel_pos_w, std=0.5)
    x = torch.randn(1, 3, 256, 256)  # 32x32 = 1024 tokens in the global blocks
    assert 32 * 32 >= attn_mod.FOLD_REL_POS_MIN_TOKENS
    calls = []
    fold = attn_mod.fold_rel_pos_into_qkv
    attn_mod.fold_rel_pos_into_qkv = lambda *a: calls.append(a[0].shape) or fold(*a)
    try:
        a = m(x)[0]
    finally:
        attn_mod.fold_rel_pos_into_qkv = fold
    assert len(calls) == 2  # the two global blocks; window blocks keep the dense bias
    set_fused_attn(False)
    try:
        b = m(x)[0]
    finally:
        set_fused_attn(True)
    torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_with_cp_matches_gradients():
    torch.manual_seed(0)
    a = EVAViT(TINY, img_size=56)
    b = EVAViT(TINY, img_size=56, with_cp=True)
    b.load_state_dict(a.state_dict())
    x = torch.randn(2, 3, 56, 56)
    for m in (a, b):
        m.train()
        m(x)[0].pow(2).mean().backward()
    for (n, p), q in zip(a.named_parameters(), b.parameters()):
        assert torch.allclose(p.grad, q.grad, atol=1e-6), n


def test_mask_token_replaces_masked_patches():
    m = EVAViT(TINY, img_size=56, use_mask_token=True).eval()
    x = torch.randn(1, 3, 56, 56)
    mask = torch.zeros(1, 16, dtype=torch.bool)
    mask[0, :5] = True
    tok, _ = m.embed(x, mask)
    pe = m.pos_embed[:, 1:]
    assert torch.allclose(tok[0, 1:6], (m.mask_token + pe[:, :5])[0])
    with pytest.raises(ValueError, match='does not match the patch grid'):
        m.embed(x, mask[:, :4])
    with pytest.raises(ValueError, match='no mask token'):
        EVAViT(TINY, img_size=56).embed(x, mask)


def test_frozen_stages_and_layer_depth():
    m = EVAViT(TINY, img_size=56, frozen_stages=2)
    m.train()
    assert not m.patch_embed.training and not m.blocks[1].training and m.blocks[2].training
    assert not m.pos_embed.requires_grad and not m.blocks[1].norm1.weight.requires_grad
    assert m.blocks[2].norm1.weight.requires_grad
    assert m.get_layer_depth('backbone.pos_embed', 'backbone.') == (0, 6)
    assert m.get_layer_depth('backbone.blocks.3.mlp.fc1.weight', 'backbone.') == (4, 6)
    assert m.get_layer_depth('backbone.norm.weight', 'backbone.') == (5, 6)
    assert m.get_layer_depth('neck.conv.weight', 'backbone.') == (5, 6)


def test_layer_decay_constructor_scales_lr_by_depth():
    from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS, init_default_scope

    class Det(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone = EVAViT(TINY, img_size=56)
            self.head = torch.nn.Linear(32, 2)

    init_default_scope('eva_mm')
    ctor = OPTIM_WRAPPER_CONSTRUCTORS.build(dict(
        type='eva_mm.LayerDecayOptimWrapperConstructor',
        optim_wrapper_cfg=dict(optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05)),
        paramwise_cfg=dict(layer_decay_rate=0.5)))
    model = Det()
    ow = ctor(model)
    lr_of = {}
    for g in ow.optimizer.param_groups:
        for p in g['params']:
            lr_of[id(p)] = (g['lr'], g['weight_decay'])
    bb = model.backbone
    assert lr_of[id(bb.pos_embed)] == (pytest.approx(1e-3 * 0.5**5), 0.)
    assert lr_of[id(bb.blocks[0].attn.qkv.weight)] == (pytest.approx(1e-3 * 0.5**4), 0.05)
    assert lr_of[id(bb.blocks[3].attn.q_bias)] == (pytest.approx(1e-3 * 0.5), 0.)
    assert lr_of[id(model.head.weight)] == (pytest.approx(1e-3), 0.05)
    with pytest.raises(ValueError, match='layer_decay_rate must be in'):
        OPTIM_WRAPPER_CONSTRUCTORS.build(dict(
            type='eva_mm.LayerDecayOptimWrapperConstructor',
            optim_wrapper_cfg=dict(optimizer=dict(type='AdamW', lr=1e-3)),
            paramwise_cfg=dict(layer_decay_rate=1.5)))
    with pytest.raises(ValueError, match=r"does not support paramwise_cfg key\(s\) \['bias_decay_mult'\]"):
        OPTIM_WRAPPER_CONSTRUCTORS.build(dict(
            type='eva_mm.LayerDecayOptimWrapperConstructor',
            optim_wrapper_cfg=dict(optimizer=dict(type='AdamW', lr=1e-3)),
            paramwise_cfg=dict(layer_decay_rate=0.9, bias_decay_mult=0.)))
