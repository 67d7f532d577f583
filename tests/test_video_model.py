"""EVAViT3D (the EVA-01 video model): shapes, the joint space-time position table (tiling from
an image table, trilinear resizing, run-time resizing), 2D -> 3D kernel inflation, checkpoint
adaptation, attention across time, activation checkpointing, layer depth and bad arguments.
Parity with the official model's outputs: tests/test_video_official.py."""
import pytest
import torch
import torch.nn.functional as F

from eva_mm.layers import resize_pos_embed
from eva_mm.models import CheckpointError, EVAViT
from eva_mm.models.checkpoint import load_pretrained, load_state_dict_into
from eva_mm.video import EVAViT3D, inflate_image_pos_embed, resize_pos_embed_3d

ARCH = dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)


def vid(**kw) -> EVAViT3D:
    args = dict(arch=ARCH, img_size=32, patch_size=8, num_frames=4, tubelet_size=1)
    args.update(kw)
    return EVAViT3D(**args).eval()


@pytest.mark.parametrize('out_type,shape', [('cls_token', (2, 32)), ('avg_featmap', (2, 32)),
                                            ('featmap', (2, 32, 2, 4, 4)),
                                            ('raw', (2, 1 + 2 * 16, 32))])
def test_output_shapes(out_type, shape):
    m = vid(tubelet_size=2, out_type=out_type)
    out = m(torch.randn(2, 3, 4, 32, 32))
    assert isinstance(out, torch.Tensor) and tuple(out.shape) == shape


def test_one_joint_table_no_final_norm_by_default():
    m = vid(num_frames=4)
    assert m.pos_embed.shape == (1, 1 + 4 * 16, 32)
    assert m.norm is None and m.fc_norm is not None and m.out_type == 'avg_featmap'
    assert not any('time' in n for n, _ in m.named_parameters())
    assert m.pos_embed.std() > 0  # trunc-normal(0.02) as the official model, not zeros


def test_multiple_out_indices_give_tuple():
    out = vid(out_indices=(0, -1))(torch.randn(1, 3, 4, 32, 32))
    assert isinstance(out, tuple) and len(out) == 2 and out[0].shape == (1, 32)


def test_tokens_are_time_major_plus_joint_table():
    """Token s*h*w + i*w + j is patch (i, j) of frame slot s plus row 1 + s*h*w + i*w + j of
    the table; the cls token gets row 0."""
    m = vid(num_frames=4)
    x = torch.randn(1, 3, 4, 32, 32)
    with torch.no_grad():
        tokens, hw = m.embed(x)
    assert hw == (4 * 4, 4) and tokens.shape == (1, 1 + 64, 32)
    w = m.patch_embed.proj.weight[:, :, 0]
    b = m.patch_embed.proj.bias
    for s, i, j in [(0, 0, 0), (1, 2, 3), (3, 1, 0)]:
        patch = x[0, :, s, 8 * i:8 * i + 8, 8 * j:8 * j + 8]
        expect = (w * patch).sum((1, 2, 3)) + b + m.pos_embed[0, 1 + s * 16 + i * 4 + j]
        torch.testing.assert_close(tokens[0, 1 + s * 16 + i * 4 + j], expect, atol=1e-5,
                                   rtol=1e-5)
    torch.testing.assert_close(tokens[0, 0], (m.cls_token + m.pos_embed[:, 0])[0, 0])


def test_trilinear_resize_and_run_time_resize():
    """8 frame slots -> 16 at the same grid: per-cell linear interpolation in time
    (align_corners=False), cls row kept; clips of another length use the resized table."""
    pos = torch.randn(1, 1 + 8 * 4, 3)
    out = resize_pos_embed_3d(pos, (8, 2, 2), (16, 2, 2))
    assert out.shape == (1, 1 + 16 * 4, 3) and torch.equal(out[:, 0], pos[:, 0])
    cells = pos[0, 1:].reshape(8, 4, 3).permute(1, 2, 0)  # (cells, C, T)
    lin = F.interpolate(cells, size=16, mode='linear', align_corners=False)
    torch.testing.assert_close(out[0, 1:].reshape(16, 4, 3), lin.permute(2, 0, 1))
    assert resize_pos_embed_3d(pos, (8, 2, 2), (8, 2, 2)) is pos
    with pytest.raises(ValueError, match='does not match the source grid'):
        resize_pos_embed_3d(pos, (4, 2, 2), (8, 2, 2))
    m = vid(num_frames=4)
    with torch.no_grad():
        m.patch_embed.proj.weight.zero_()
        m.patch_embed.proj.bias.zero_()
        tokens, _ = m.embed(torch.randn(1, 3, 8, 48, 48))
    expect = resize_pos_embed_3d(m.pos_embed, (4, 4, 4), (8, 6, 6))
    expect = expect + torch.cat((m.cls_token, torch.zeros(1, 8 * 36, 32)), 1)
    torch.testing.assert_close(tokens, expect)


def _image_and_video(tubelet: int, **kw):
    img = EVAViT(arch=ARCH, img_size=32, patch_size=8, final_norm=False, **kw).eval()
    with torch.no_grad():
        for p in img.parameters():
            p.normal_(0, .2)
    v = vid(num_frames=4, tubelet_size=tubelet, **kw)
    load_state_dict_into(v, img.state_dict(), strict=True)
    return img, v


@pytest.mark.parametrize('tubelet', [1, 2])
def test_image_checkpoint_inflation(tubelet):
    """Kernel repeated over t and divided by t; table tiled per frame slot (official
    ``init_mode='eva'``): a static clip gives the image tokens in every slot."""
    img, v = _image_and_video(tubelet, out_type='raw')
    w2, w3 = img.patch_embed.proj.weight, v.patch_embed.proj.weight
    assert w3.shape == (32, 3, tubelet, 8, 8)
    torch.testing.assert_close(w3, w2[:, :, None].repeat(1, 1, tubelet, 1, 1) / tubelet)
    T = 4 // tubelet
    torch.testing.assert_close(v.pos_embed, inflate_image_pos_embed(img.pos_embed, T))
    x = torch.randn(2, 3, 32, 32)
    img_tok, _ = img.embed(x)
    vid_tok, _ = v.embed(x[:, :, None].expand(-1, -1, 4, -1, -1))
    for t in range(T):
        torch.testing.assert_close(vid_tok[:, 1 + 16 * t:1 + 16 * (t + 1)], img_tok[:, 1:])
    torch.testing.assert_close(vid_tok[:, 0], img_tok[:, 0])


def test_one_frame_video_model_is_the_image_model():
    """A 1-frame video model loaded from an image checkpoint is the image model (same
    tokens, same inherited blocks)."""
    img, _ = _image_and_video(1, out_type='raw')
    v1 = vid(num_frames=1, out_type='raw')
    load_state_dict_into(v1, img.state_dict(), strict=True)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(v1(x[:, :, None]), img(x)[0], atol=1e-5, rtol=1e-5)


def test_pretrained_image_checkpoint_through_init_cfg(tmp_path):
    """The real loading path (init_cfg Pretrained -> converter -> adapt_checkpoint): official
    MIM layout at another resolution: kernel inflated, grid resized bicubically, then tiled."""
    img = EVAViT(arch=ARCH, img_size=48, patch_size=8, use_mask_token=True)
    sd = {k: v for k, v in img.state_dict().items()}
    sd['lm_head.weight'] = torch.zeros(8, 32)
    path = str(tmp_path / 'mim.pth')
    torch.save({'model': sd}, path)
    v = vid(num_frames=4, tubelet_size=2, init_cfg=dict(type='Pretrained', checkpoint=path))
    v.init_weights()
    torch.testing.assert_close(v.patch_embed.proj.weight,
                               sd['patch_embed.proj.weight'][:, :, None].repeat(1, 1, 2, 1, 1) / 2)
    grid = resize_pos_embed(sd['pos_embed'], (6, 6), (4, 4), 1)
    torch.testing.assert_close(v.pos_embed, inflate_image_pos_embed(grid, 2))


def test_video_checkpoint_into_other_frames_and_tubelet(tmp_path):
    """K722 (8 frames) -> K400 (16 frames) style: an eva_mm Recognizer checkpoint loads into a
    model with more frames and another tubelet: the table is resized trilinearly, the 3D
    kernel re-inflated from its static-clip equivalent."""
    a = vid(num_frames=4, tubelet_size=2)
    path = str(tmp_path / 'recognizer.pth')
    torch.save({'state_dict': {**{f'backbone.{k}': t for k, t in a.state_dict().items()},
                               'cls_head.fc_cls.weight': torch.zeros(5, 32)}}, path)
    b = vid(num_frames=8, tubelet_size=1)
    load_pretrained(b, path, prefix='backbone.', strict=True)
    torch.testing.assert_close(b.pos_embed, resize_pos_embed_3d(a.pos_embed, (2, 4, 4),
                                                                (8, 4, 4)))
    torch.testing.assert_close(b.patch_embed.proj.weight[:, :, 0],
                               a.patch_embed.proj.weight.sum(2))
    # the same file without a prefix (the eva_mm layout is recognised by its keys)
    c = vid(num_frames=8, tubelet_size=1)
    load_pretrained(c, path, strict=True)
    torch.testing.assert_close(c.pos_embed, b.pos_embed)


def test_bad_video_table_names_the_key(tmp_path):
    a = vid(num_frames=4)
    sd = dict(a.state_dict())
    sd['pos_embed'] = torch.zeros(1, 1 + 3 * 7, 32)  # neither T x 4x4 nor 4 x square
    with pytest.raises(CheckpointError, match='pos_embed of the video checkpoint has 22 rows'):
        load_state_dict_into(vid(num_frames=4), sd)


def test_frames_meet_only_in_attention():
    """Per-frame patch embedding: changing frame 3 leaves the embedded tokens of frames 0-2
    unchanged but changes frame 0's outputs (attention across time); the same frame in
    another slot gives other features (the table tells the frame slots apart)."""
    m = vid(num_frames=4, out_type='raw')
    with torch.no_grad():
        m.pos_embed.normal_()  # a trained-size table (the init's std .02 barely matters)
    x = torch.randn(1, 3, 4, 32, 32)
    y = x.clone()
    y[:, :, 3] += 1.
    with torch.no_grad():
        tx, _ = m.embed(x)
        ty, _ = m.embed(y)
        torch.testing.assert_close(tx[:, :1 + 48], ty[:, :1 + 48])  # embedding: per frame
        ox, oy = m(x), m(y)
        assert (ox[:, 1:17] - oy[:, 1:17]).abs().max() > 1e-3  # frame 0 sees frame 3
        rev = m(x.flip(2))  # frame 3 now sits in slot 0: the table tells the slots apart
        assert (rev[:, 1:17] - ox[:, 1 + 48:]).abs().max() > 1e-1


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
    assert m.pos_embed.grad.abs().sum() > 0


def test_layer_depth_and_freezing():
    m = vid(frozen_stages=1)
    assert m.get_layer_depth('backbone.pos_embed', 'backbone.') == (0, 4)
    assert m.get_layer_depth('backbone.patch_embed.proj.weight', 'backbone.') == (0, 4)
    assert m.get_layer_depth('backbone.blocks.1.attn.qkv.weight', 'backbone.') == (2, 4)
    assert not m.pos_embed.requires_grad and not m.patch_embed.proj.weight.requires_grad
    assert vid().pos_embed.requires_grad


@pytest.mark.parametrize('kw,msg', [
    (dict(tubelet_size=3), 'multiple of'),
    (dict(tubelet_size=0), 'tubelet_size must be a positive int'),
    (dict(arch='eva02-t'), 'RoPE'),
    (dict(with_cls_token=False), 'with_cls_token=True'),
    (dict(use_abs_pos_emb=False), 'use_abs_pos_emb=True'),
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
