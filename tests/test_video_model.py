"""EVAViT3D: shapes, space/time position-embedding interpolation, 2D -> 3D kernel inflation,
checkpoint adaptation, activation checkpointing, layer depth and bad arguments."""
import pytest
import torch
import torch.nn.functional as F

from eva_mm.layers import resize_pos_embed
from eva_mm.models import EVAViT
from eva_mm.models.checkpoint import load_pretrained, load_state_dict_into
from eva_mm.video import EVAViT3D, resize_time_embed

ARCH = dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)


def vid(**kw) -> EVAViT3D:
    args = dict(arch=ARCH, img_size=32, patch_size=8, num_frames=4, tubelet_size=1)
    args.update(kw)
    return EVAViT3D(**args).eval()


@pytest.mark.parametrize('out_type,shape', [('cls_token', (2, 32)), ('avg_featmap', (2, 32)),
                                            ('featmap', (2, 32, 2, 4, 4)),
                                            ('raw', (2, 1 + 2 * 16, 32))])
def test_output_shapes(out_type, shape):
    m = vid(tubelet_size=2, out_type=out_type, final_norm=out_type != 'avg_featmap')
    out = m(torch.randn(2, 3, 4, 32, 32))
    assert isinstance(out, torch.Tensor) and tuple(out.shape) == shape


def test_multiple_out_indices_give_tuple():
    out = vid(out_indices=(0, -1))(torch.randn(1, 3, 4, 32, 32))
    assert isinstance(out, tuple) and len(out) == 2 and out[0].shape == (1, 32)


def test_frame_count_and_resolution_interpolate_both_embeddings():
    """T=8 clips at 48x48 on a model learned for 4 frames at 32x32: every patch token is
    exactly bicubic(spatial)[h, w] + linear(temporal)[t] (patch projection zeroed)."""
    m = vid(num_frames=4)
    with torch.no_grad():
        m.pos_embed.normal_()
        m.time_embed.normal_()
        m.patch_embed.proj.weight.zero_()
        m.patch_embed.proj.bias.zero_()
    tokens, hw = m.embed(torch.randn(1, 3, 8, 48, 48))
    assert hw == (8 * 6, 6) and tokens.shape == (1, 1 + 8 * 36, 32)
    space = resize_pos_embed(m.pos_embed, (4, 4), (6, 6), 1)[:, 1:].reshape(6, 6, 32)
    time = F.interpolate(m.time_embed.transpose(1, 2), size=8, mode='linear',
                         align_corners=False).transpose(1, 2)[0]
    expect = time[:, None, None, :] + space[None]  # (T, H, W, C)
    torch.testing.assert_close(tokens[0, 1:].reshape(8, 6, 6, 32), expect)
    # the cls token gets the cls slot of the spatial embedding, no temporal one
    torch.testing.assert_close(tokens[0, 0], (m.cls_token + m.pos_embed[:, 0])[0, 0])
    # same geometry as learned: no interpolation at all
    tokens, _ = m.embed(torch.randn(1, 3, 4, 32, 32))
    torch.testing.assert_close(tokens[0, 1:].reshape(4, 16, 32),
                               m.time_embed[0, :, None] + m.pos_embed[0, None, 1:])


def test_resize_time_embed_is_linear_and_identity_when_same():
    te = torch.arange(4.).view(1, 4, 1).repeat(1, 1, 3)
    assert resize_time_embed(te, 4) is te
    out = resize_time_embed(te, 8)
    assert out.shape == (1, 8, 3)
    # linear, half-pixel centres: the ends clamp, the middle steps by 0.5
    torch.testing.assert_close(out[0, :, 0], torch.tensor([0, .25, .75, 1.25, 1.75, 2.25, 2.75, 3.]))


def _image_and_video(tubelet: int, **kw):
    img = EVAViT(arch=ARCH, img_size=32, patch_size=8, **kw).eval()
    with torch.no_grad():
        for p in img.parameters():
            p.normal_(0, .2)
    v = vid(num_frames=4, tubelet_size=tubelet, **kw)
    load_state_dict_into(v, img.state_dict(), strict=True)
    return img, v


@pytest.mark.parametrize('tubelet', [1, 2])
def test_inflated_kernel_keeps_static_clip_patch_tokens(tubelet):
    img, v = _image_and_video(tubelet, out_type='raw')
    w2, w3 = img.patch_embed.proj.weight, v.patch_embed.proj.weight
    assert w3.shape == (32, 3, tubelet, 8, 8)
    torch.testing.assert_close(w3.sum(2), w2)  # repeat over t, divided by t
    assert torch.count_nonzero(v.time_embed) == 0  # image checkpoint: zero temporal embedding
    x = torch.randn(2, 3, 32, 32)
    clip = x[:, :, None].expand(-1, -1, 4, -1, -1)
    img_tok, _ = img.embed(x)
    vid_tok, _ = v.embed(clip)
    T = 4 // tubelet
    for t in range(T):
        torch.testing.assert_close(vid_tok[:, 1 + 16 * t:1 + 16 * (t + 1)], img_tok[:, 1:])
    torch.testing.assert_close(vid_tok[:, 0], img_tok[:, 0])


@pytest.mark.parametrize('tubelet', [1, 2])
def test_inflated_model_gives_image_features_on_static_clip(tubelet):
    """Joint attention over T identical copies of the tokens = attention over one copy, so
    without a cls token (whose key is not duplicated) the features equal the image model's."""
    img, v = _image_and_video(tubelet, out_type='featmap', with_cls_token=False)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        f2 = img(x)[0]
        f3 = v(x[:, :, None].expand(-1, -1, 4, -1, -1))
    assert f3.shape == (2, 32, 4 // tubelet, 4, 4)
    for t in range(f3.shape[2]):
        torch.testing.assert_close(f3[:, :, t], f2, atol=1e-5, rtol=1e-4)


def test_pretrained_image_checkpoint_through_init_cfg(tmp_path):
    """The real loading path (init_cfg Pretrained -> converter -> adapt_checkpoint): official
    MIM layout at another resolution; kernel inflated, pos grid resized, time_embed zeros."""
    img = EVAViT(arch=ARCH, img_size=48, patch_size=8, use_mask_token=True)
    sd = {k: v for k, v in img.state_dict().items()}
    sd['lm_head.weight'] = torch.zeros(8, 32)
    path = str(tmp_path / 'mim.pth')
    torch.save({'model': sd}, path)
    v = vid(num_frames=4, tubelet_size=2,
            init_cfg=dict(type='Pretrained', checkpoint=path))
    with torch.no_grad():
        v.time_embed.fill_(1.)
    v.init_weights()
    torch.testing.assert_close(v.patch_embed.proj.weight,
                               sd['patch_embed.proj.weight'][:, :, None].repeat(1, 1, 2, 1, 1) / 2)
    torch.testing.assert_close(v.pos_embed, resize_pos_embed(sd['pos_embed'], (6, 6), (4, 4), 1))
    assert torch.count_nonzero(v.time_embed) == 0


def test_video_checkpoint_into_other_frames_and_tubelet(tmp_path):
    """K722 (8 frames) -> K400 (16 frames) style: a video checkpoint saved under ``backbone.``
    loads into a model with more frames and another tubelet; time_embed is interpolated and
    the 3D kernel is re-inflated from its static-clip equivalent."""
    a = vid(num_frames=4, tubelet_size=2)
    with torch.no_grad():
        a.time_embed.normal_()
    path = str(tmp_path / 'recognizer.pth')
    torch.save({'state_dict': {**{f'backbone.{k}': t for k, t in a.state_dict().items()},
                               'cls_head.fc_cls.weight': torch.zeros(5, 32)}}, path)
    b = vid(num_frames=8, tubelet_size=1)
    load_pretrained(b, path, prefix='backbone.', strict=True)
    torch.testing.assert_close(b.time_embed, resize_time_embed(a.time_embed, 8))
    torch.testing.assert_close(b.patch_embed.proj.weight[:, :, 0],
                               a.patch_embed.proj.weight.sum(2))
    static = torch.randn(1, 3, 1, 32, 32).expand(-1, -1, 4, -1, -1)
    ta, _ = a.patch_embed(static)
    tb, _ = b.patch_embed(static)
    torch.testing.assert_close(tb[:, :16], ta[:, :16])


def test_with_cp_same_gradients():
    torch.manual_seed(0)
    m = vid(out_type='cls_token')
    m2 = vid(out_type='cls_token', with_cp=True)
    m2.load_state_dict(m.state_dict())
    m.train()
    m2.train()
    x = torch.randn(2, 3, 4, 32, 32)
    m(x).pow(2).sum().backward()
    m2(x).pow(2).sum().backward()
    for (n, p), (_, p2) in zip(m.named_parameters(), m2.named_parameters()):
        torch.testing.assert_close(p.grad, p2.grad, msg=n)
    assert m.time_embed.grad.abs().sum() > 0


def test_layer_depth_and_freezing():
    m = vid(frozen_stages=1)
    assert m.get_layer_depth('backbone.time_embed', 'backbone.') == (0, 4)
    assert m.get_layer_depth('backbone.blocks.1.attn.qkv.weight', 'backbone.') == (2, 4)
    assert not m.time_embed.requires_grad and not m.pos_embed.requires_grad
    assert vid().time_embed.requires_grad


@pytest.mark.parametrize('kw,msg', [
    (dict(tubelet_size=3), 'multiple of'),
    (dict(tubelet_size=0), 'tubelet_size must be a positive int'),
    (dict(arch='eva02-t'), 'RoPE'),
    (dict(with_cls_token=False, window_size=2, window_block_indexes=[0]), 'window_block_indexes'),
    (dict(with_cls_token=False, use_rel_pos=True), 'use_rel_pos'),
])
def test_bad_arguments(kw, msg):
    with pytest.raises(ValueError, match=msg):
        vid(**kw)


def test_bad_inputs():
    m = vid(tubelet_size=2)
    with pytest.raises(ValueError, match=r'\(B, C, T, H, W\)'):
        m(torch.randn(1, 3, 32, 32))
    with pytest.raises(ValueError, match='clip length 3 is not a multiple of the tubelet size 2'):
        m(torch.randn(1, 3, 3, 32, 32))
    with pytest.raises(ValueError, match='not a multiple of the patch size'):
        m(torch.randn(1, 3, 4, 30, 32))
