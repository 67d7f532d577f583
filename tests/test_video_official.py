"""The video model against the official EVA-01 video code's own outputs.

``../shared/reference/eva01_video/`` (or ``$EVA_MM_REFERENCE/eva01_video``) holds tiny
checkpoints written by the official code (the released ``eva_video_k*.pth`` key layout, random
weights: 192 wide, 4 blocks, 3 heads, MLP 837, 112 px, patch 14), the official K722 -> K400
loading result with its class mapping, and the official model's outputs on two clips at every
stage. The checkpoints are converted with the CLI and loaded strictly into the recognizer of
the paper configs (only the sizes shrunk), then every stage is compared.
"""
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint

import eva_mm  # noqa: F401
from eva_mm.models.checkpoint import (CheckpointError, convert_model_state_dict,
                                      load_pretrained, read_checkpoint, unwrap_checkpoint)
from eva_mm.video import EVAViT3D, convert_eva01_video
from mmaction.registry import MODELS  # noqa: E402  (after eva_mm)

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
REF = os.environ.get('EVA_MM_REFERENCE',
                     osp.join(osp.dirname(ROOT), 'shared', 'reference')) + '/eva01_video'
TINY = dict(embed_dims=192, num_layers=4, num_heads=3, feedforward_channels=837)
CASES = {  # name -> (paper config, frames, classes of the tiny reference model)
    'k722': ('configs/video/eva_k722.py', 8, 16),
    'k400': ('configs/video/eva_k400.py', 16, 10)}
# max |eva_mm - official| allowed per stage (fp32; the README suggests ~1e-6 / ~1e-5)
ATOL = dict(input=1e-5, patch_embed=1e-5, tokens_with_pos=1e-5, last_block=5e-5,
            mean_patch_tokens=5e-5, pooled=5e-5, logits=5e-5)


@pytest.fixture(scope='module')
def ref():
    if not osp.isdir(REF):
        raise FileNotFoundError(f'the official video reference is missing: {REF} (set '
                                f'EVA_MM_REFERENCE to the folder holding eva01_video/)')
    return torch.load(osp.join(REF, 'official_tiny_outputs.pt'), weights_only=True)


def tiny_model_cfg(name: str):
    """The model config of a paper config with the reference's tiny sizes (init_cfg kept)."""
    path, frames, classes = CASES[name]
    cfg = Config.fromfile(osp.join(ROOT, path))
    init_default_scope('mmaction')
    m = cfg.model
    m.backbone.update(arch=dict(TINY), img_size=112, with_cp=False)
    assert m.backbone.num_frames == frames
    m.cls_head.update(num_classes=classes, in_channels=192)
    return m


def tiny_recognizer(name: str):
    """The tiny recognizer of a paper config, without its init files."""
    m = tiny_model_cfg(name)
    m.backbone.init_cfg = m.cls_head.init_cfg = None
    return MODELS.build(m).eval()


def convert_with_cli(src: str, dst: str) -> str:
    cli = osp.join(ROOT, 'tools/model_converters/eva_to_eva_mm.py')
    proc = subprocess.run([sys.executable, cli, src, dst], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert 'layout: eva01_video (whole model)' in proc.stdout, proc.stdout
    return dst


def stage_diffs(model, r: dict) -> dict:
    """max |eva_mm - official| at every stage the reference recorded, from its uint8 frames."""
    frames = r['frames_uint8']  # (B, T, H, W, 3) RGB
    data = dict(inputs=[f.permute(3, 0, 1, 2)[None] for f in frames],  # (1, 3, T, H, W) each
                data_samples=None)
    x = model.data_preprocessor(data, False)['inputs'][:, 0]  # (B, 3, T, H, W)
    bb = model.backbone
    got = {'input': x.transpose(1, 2)}  # official layout (B, T, 3, H, W)
    cap = {}
    hook = bb.blocks[-1].register_forward_hook(lambda m, i, o: cap.setdefault('last', o))
    with torch.no_grad():
        got['patch_embed'] = bb.patch_embed(x)[0]
        got['tokens_with_pos'] = bb.embed(x)[0]
        got['pooled'] = bb(x)
        got['logits'] = model.cls_head(got['pooled'])
        inputs = model.data_preprocessor(data, False)['inputs']  # (B, 1 view, 3, T, H, W)
        scores = model(inputs, mode='tensor', stage='head')
    hook.remove()
    got['last_block'] = cap['last']
    got['mean_patch_tokens'] = cap['last'][:, 1:].mean(1)
    diffs = {k: (got[k] - r[k]).abs().max().item() for k in ATOL}
    diffs['recognizer_vs_head'] = (scores - got['logits']).abs().max().item()
    return diffs


@pytest.mark.parametrize('name', sorted(CASES))
def test_official_checkpoint_matches_official_outputs(ref, name, tmp_path):
    src = osp.join(REF, f'official_tiny_{name}.pth')
    dst = convert_with_cli(src, str(tmp_path / f'{name}.pth'))
    model = tiny_recognizer(name)
    load_checkpoint(model, dst, strict=True, map_location='cpu')  # every key, every shape
    diffs = stage_diffs(model, ref[name])
    print(f'{name}: max abs diff per stage {diffs}')
    for k, tol in ATOL.items():
        assert diffs[k] <= tol, (k, diffs)
    assert diffs['recognizer_vs_head'] == 0
    # the official logits decide the same classes
    assert torch.equal(ref[name]['logits'].argmax(1),
                       model.cls_head(model.backbone(
                           ref[name]['input'].transpose(1, 2))).argmax(1))


def test_test_time_sampling_matches_official_indices(ref):
    """The official test clip (TSN segments, middle frame of each) = mmaction2's SampleFrames
    with clip_len=1, num_clips=T in test mode, on the reference's 48-frame videos."""
    from mmaction.datasets.transforms import SampleFrames
    for name, (_, T, _) in CASES.items():
        r = SampleFrames(clip_len=1, frame_interval=1, num_clips=T, test_mode=True)(
            dict(total_frames=48, start_index=0))
        assert r['frame_inds'].tolist() == ref[name]['frame_indices'].tolist()


def test_image_to_video_init_matches_official(ref, tmp_path):
    """Official ``init_mode='eva'``: the image table tiled per frame, the 2D kernel inflated
    (t = 1: unsqueezed), the bias copied, the image's final norm not used; through the
    Pretrained loader from an official MIM-layout file."""
    r = ref['image_to_video_init']
    img = dict(EVAViT3D(arch=TINY, img_size=112, patch_size=14, num_frames=1).state_dict())
    img['patch_embed.proj.weight'] = r['image_patch_weight']
    img['patch_embed.proj.bias'] = r['image_patch_bias']
    img['pos_embed'] = r['image_pos_embed']
    img['mask_token'] = torch.zeros(1, 1, 192)
    img['norm.weight'], img['norm.bias'] = torch.rand(192), torch.rand(192)  # MIM final norm
    del img['fc_norm.weight'], img['fc_norm.bias']  # a MIM checkpoint has none
    path = str(tmp_path / 'eva_psz14.pt')
    torch.save({'model': img}, path)
    bb = tiny_recognizer('k722').backbone
    load_pretrained(bb, path)
    assert torch.equal(bb.pos_embed.data, r['video_pos_embed'])
    assert torch.equal(bb.patch_embed.proj.weight.data, r['video_patch_weight'])
    assert torch.equal(bb.patch_embed.proj.bias.data, r['video_patch_bias'])
    # the video model has no final norm; fc_norm keeps its init (official strict=False load)
    assert torch.equal(bb.fc_norm.weight.data, torch.ones(192))
    assert torch.equal(bb.fc_norm.bias.data, torch.zeros(192))


def test_k722_to_k400_init_matches_official(ref):
    """The K400 config's init (backbone and head from the K722 checkpoint, head rows through
    the class mapping, table 8 -> 16 frames trilinearly) gives the official K400 loader's
    model: every tensor of ``official_tiny_k400.pth``."""
    k722 = osp.join(REF, 'official_tiny_k722.pth')
    mapping = osp.join(REF, 'official_tiny_class_mapping.npy')
    m = tiny_model_cfg('k400')
    # the config initialises backbone and head from the same K722 file, through the mapping
    assert m.backbone.init_cfg.type == m.cls_head.init_cfg.type == 'Pretrained'
    assert m.backbone.init_cfg.checkpoint == m.cls_head.init_cfg.checkpoint
    assert m.cls_head.class_mapping.endswith('k722_to_k400_mapping.npy')
    m.backbone.init_cfg.checkpoint = m.cls_head.init_cfg.checkpoint = k722
    m.cls_head.class_mapping = mapping
    model = MODELS.build(m)
    model.init_weights()
    got = model.state_dict()
    want, _ = convert_model_state_dict(unwrap_checkpoint(read_checkpoint(
        osp.join(REF, 'official_tiny_k400.pth'))))
    assert sorted(got) == sorted(want)
    diffs = {k: (got[k] - v).abs().max().item() for k, v in want.items()}
    print(f'K722 -> K400 init: max abs diff {max(diffs.values()):.3g} '
          f'(pos_embed {diffs["backbone.pos_embed"]:.3g})')
    assert max(diffs.values()) <= 1e-6, {k: d for k, d in diffs.items() if d > 1e-6}
    r = ref['k722_to_k400_load']
    assert torch.equal(got['cls_head.fc_cls.weight'], r['head.weight'])
    assert torch.equal(got['cls_head.fc_cls.bias'], r['head.bias'])
    assert (got['backbone.pos_embed'] - r['pos_embed']).abs().max() <= 1e-6


def test_head_init_errors_name_the_problem(tmp_path):
    k722 = osp.join(REF, 'official_tiny_k722.pth')
    m = tiny_model_cfg('k400')
    m.backbone.init_cfg = None
    m.cls_head.init_cfg = dict(type='Pretrained', checkpoint=k722)
    m.cls_head.class_mapping = None
    with pytest.raises(CheckpointError, match='the head has 16 classes, the model 10; give '
                       'class_mapping'):
        MODELS.build(m).cls_head.init_weights()
    m.cls_head.class_mapping = [0, 1, 2]
    with pytest.raises(CheckpointError, match='class mapping has 3 entries, the head 10'):
        MODELS.build(m).cls_head.init_weights()
    m.cls_head.class_mapping = list(range(7, 17))
    with pytest.raises(CheckpointError, match=r'values must lie in \[0, 16\)'):
        MODELS.build(m).cls_head.init_weights()


def test_converter_names_unknown_and_missing_keys():
    sd = unwrap_checkpoint(read_checkpoint(osp.join(REF, 'official_tiny_k722.pth')))
    bad = dict(sd, **{'norm.weight': torch.ones(192)})
    with pytest.raises(CheckpointError, match=r"unknown key\(s\) \['norm.weight'\]"):
        convert_eva01_video(bad)
    bad = dict(sd)
    bad.pop('blocks.2.attn.v_bias')
    with pytest.raises(CheckpointError, match=r"missing key\(s\) \['blocks.2.attn.v_bias'\]"):
        convert_eva01_video(bad)
    out, report = convert_model_state_dict(sd)
    assert report.layout == 'eva01_video'
    assert set(out) == {f'backbone.{k}' for k in sd if not k.startswith('head.')} | {
        'cls_head.fc_cls.weight', 'cls_head.fc_cls.bias'}


def test_released_checkpoint_through_load_from(tmp_path):
    """``load_from`` / ``tools/test.py`` path: the Runner of the K400 config reads the
    official checkpoint as it is (``eva_mm.ConvertCheckpointHook`` converts it on load) and
    every tensor lands in the model."""
    from mmengine.runner import Runner
    cfg = Config.fromfile(osp.join(ROOT, CASES['k400'][0]))
    cfg.model = tiny_model_cfg('k400')
    cfg.model.backbone.init_cfg = cfg.model.cls_head.init_cfg = None
    cfg.work_dir = str(tmp_path)
    cfg.visualizer.vis_backends = []
    runner = Runner.from_cfg(cfg)
    src = osp.join(REF, 'official_tiny_k400.pth')
    runner.load_checkpoint(src, strict=True)
    want, _ = convert_model_state_dict(unwrap_checkpoint(read_checkpoint(src)))
    got = runner.model.state_dict()
    assert sorted(got) == sorted(want)
    assert all(torch.equal(got[k], v) for k, v in want.items())
