"""EVA-CLIP: distributed contrastive loss == single-process loss, zero-shot metric, tokenizer
transform, captioned dataset errors, and the open_clip export round trip."""
import json
import math
import os.path as osp

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F
from mmengine.structures import BaseDataElement

from eva_mm.pretrain import (EVACLIP, TokenizeCaption, ZeroShotAccuracy, clip_contrastive_loss,
                             export_open_clip, load_exported)
from eva_mm.registry import DATASETS, METRICS, MODELS

WORLD, LOCAL_B, IN_DIM, DIM = 2, 3, 10, 6


def _towers(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Linear(IN_DIM, DIM), torch.nn.Linear(IN_DIM, DIM)


def _data():
    g = torch.Generator().manual_seed(1)
    return torch.randn(WORLD * LOCAL_B, IN_DIM, generator=g), torch.randn(WORLD * LOCAL_B, IN_DIM,
                                                                          generator=g)


def _loss(img_tower, txt_tower, xi, xt, scale):
    return clip_contrastive_loss(F.normalize(img_tower(xi), dim=-1),
                                 F.normalize(txt_tower(xt), dim=-1), scale)


def _worker(rank: int, init_file: str, out_file: str) -> None:
    dist.init_process_group('gloo', init_method=f'file://{init_file}', rank=rank,
                            world_size=WORLD)
    torch.set_num_threads(1)
    img_tower, txt_tower = _towers()
    scale = torch.tensor(math.log(1 / 0.07)).requires_grad_()
    xi, xt = _data()
    sl = slice(rank * LOCAL_B, (rank + 1) * LOCAL_B)
    loss = _loss(img_tower, txt_tower, xi[sl], xt[sl], scale.exp())
    loss.backward()
    params = list(img_tower.parameters()) + list(txt_tower.parameters()) + [scale]
    grads = []
    for p in params:  # what DDP does: average the gradients over processes
        g = p.grad.clone()
        dist.all_reduce(g)
        grads.append(g / WORLD)
    lv = loss.detach().clone()
    dist.all_reduce(lv)
    if rank == 0:
        torch.save(dict(loss=lv / WORLD, grads=grads), out_file)
    dist.barrier()
    dist.destroy_process_group()


def test_two_process_loss_equals_single_process(tmp_path):
    out = str(tmp_path / 'dist.pt')
    # fork: the children reuse the imported modules (spawn would re-import eva_mm and every
    # mm* library in each child, ~1 min on the shared CPU)
    mp.start_processes(_worker, args=(str(tmp_path / 'init'), out), nprocs=WORLD, join=True,
                       start_method='fork')
    res = torch.load(out)
    img_tower, txt_tower = _towers()
    scale = torch.tensor(math.log(1 / 0.07)).requires_grad_()
    xi, xt = _data()
    loss = _loss(img_tower, txt_tower, xi, xt, scale.exp())
    loss.backward()
    # direct computation of the global symmetric InfoNCE
    fi, ft = F.normalize(img_tower(xi), dim=-1), F.normalize(txt_tower(xt), dim=-1)
    logits = scale.exp() * fi @ ft.T
    lab = torch.arange(len(xi))
    direct = (F.cross_entropy(logits, lab) + F.cross_entropy(logits.T, lab)) / 2
    assert torch.allclose(loss, direct, atol=1e-6)
    assert torch.allclose(res['loss'], loss.detach(), atol=1e-6), (res['loss'], loss)
    params = list(img_tower.parameters()) + list(txt_tower.parameters()) + [scale]
    for p, g in zip(params, res['grads']):
        assert torch.allclose(p.grad, g, atol=1e-6), (p.grad, g)


TINY_VISION = dict(arch=dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64),
                   img_size=32, patch_size=8)
TINY_TEXT = dict(context_length=12, vocab_size=49408, width=32, heads=2, layers=2)


def build_clip(**kw) -> EVACLIP:
    torch.manual_seed(0)
    return MODELS.build(dict(dict(type='eva_mm.EVACLIP', vision=TINY_VISION, embed_dim=24,
                                  text_cfg=TINY_TEXT, quick_gelu=True), **kw))


def test_clip_forward_loss_and_temperature():
    model = build_clip()
    tok = TokenizeCaption(context_length=12)
    caps = ['a red circle', 'a blue square', 'a green triangle']
    ds = [BaseDataElement(text=tok(dict(caption=c))['text']) for c in caps]
    out = model(torch.randn(3, 3, 32, 32), ds, mode='loss')
    assert out['loss'].ndim == 0 and out['loss'] > 0
    assert torch.allclose(out['logit_scale'], torch.tensor(1 / 0.07))
    out['loss'].backward()
    assert model.logit_scale.grad is not None and model.logit_scale.grad != 0
    with torch.no_grad():
        model.logit_scale.fill_(10.0)
    assert torch.allclose(model.get_logit_scale(), torch.tensor(100.0))
    with pytest.raises(ValueError, match='text'):
        model(torch.randn(1, 3, 32, 32), [BaseDataElement()], mode='loss')


def test_tokenize_caption_transform():
    t = TokenizeCaption(context_length=12)
    ids = t(dict(caption='a red circle'))['text']
    assert ids.shape == (12, ) and ids[0] == 49406 and 49407 in ids.tolist()
    np.random.seed(0)
    assert t(dict(caption=['a', 'b']))['text'].shape == (12, )
    with pytest.raises(ValueError, match='caption'):
        t(dict(caption='', img_path='x.png'))


def test_zero_shot_metric_with_hand_made_embeddings():
    metric = METRICS.build(dict(type='eva_mm.ZeroShotAccuracy', templates=['a {}.'],
                                classnames=['a', 'b', 'c'], topk=(1, 2)))
    with pytest.raises(ValueError, match='classifier must be'):
        metric.set_classifier(torch.eye(4))
    metric.set_classifier(torch.eye(3))  # class k <-> axis k
    samples = [dict(image_embedding=torch.tensor([1., 0., 0.]), gt_label=0),
               dict(image_embedding=torch.tensor([0., 1., 0.5]), gt_label=2),  # top-2 hit
               dict(image_embedding=torch.tensor([0., 0., 1.]), gt_label=2),
               dict(image_embedding=torch.tensor([1., 0.2, 0.]), gt_label=2)]  # miss
    metric.process({}, samples)
    res = metric.evaluate(len(samples))
    assert res['zero_shot/top1'] == pytest.approx(50.0)
    assert res['zero_shot/top2'] == pytest.approx(75.0)
    with pytest.raises(ValueError, match='templates'):
        ZeroShotAccuracy(templates=['no placeholder'])


def test_zero_shot_classifier_is_prompt_ensemble():
    model = build_clip().eval()
    templates = ['a photo of a {}.', 'a {}.']
    w = model.build_zero_shot_classifier(['red circle', 'blue square'], templates)
    assert w.shape == (24, 2)
    with torch.no_grad():
        e = model.encode_text(model.tokenize(['a photo of a red circle.', 'a red circle.']))
    assert torch.allclose(w[:, 0], F.normalize(e.mean(0), dim=-1), atol=1e-6)
    assert torch.allclose(w.norm(dim=0), torch.ones(2), atol=1e-6)


def test_export_round_trip_through_open_clip(tmp_path):
    model = build_clip().eval()
    with torch.no_grad():  # a non-trivial temperature and text projection
        model.logit_scale.fill_(3.3)
    cfg_path, weights = export_open_clip(model, str(tmp_path), 'eva-mm-test-tiny')
    cfg = json.load(open(cfg_path))
    assert cfg['vision_cfg']['timm_model_name'].startswith('eva_mm_vit_d32_l2_h2_f64_p8_s32')
    assert cfg['custom_text'] and cfg['quick_gelu']
    clip = load_exported(cfg_path, weights).eval()  # open_clip.create_model, strict loading
    x = torch.randn(3, 3, 32, 32)
    texts = model.tokenize(['a red circle', 'a blue square', 'hello world'])
    with torch.no_grad():
        assert torch.allclose(model.encode_image(x), clip.encode_image(x, normalize=True),
                              atol=1e-5)
        assert torch.allclose(model.encode_text(texts), clip.encode_text(texts, normalize=True),
                              atol=1e-5)
        assert torch.allclose(clip.logit_scale, torch.tensor(3.3))
        img_logits, _ = clip.get_logits(x, texts)
        ours = model.get_logit_scale() * model.encode_image(x) @ model.encode_text(texts).T
        assert torch.allclose(img_logits, ours, atol=1e-4)


def test_export_rejects_bad_name(tmp_path):
    with pytest.raises(ValueError, match='name'):
        export_open_clip(build_clip(), str(tmp_path), 'bad.name')


def test_captioned_dataset_and_errors(tmp_path):
    ann = dict(metainfo=dict(classes=['red circle', 'blue square']),
               data_list=[dict(img_path='a.png', caption='a red circle', gt_label=0),
                          dict(img_path='b.png', caption=['x', 'y'], gt_label=1)])
    (tmp_path / 'ok.json').write_text(json.dumps(ann))
    ds = DATASETS.build(dict(type='eva_mm.CaptionedImageDataset', data_root=str(tmp_path),
                             ann_file='ok.json', with_label=True))
    assert len(ds) == 2 and ds.metainfo['classes'] == ['red circle', 'blue square']
    assert ds[0]['img_path'] == osp.join(str(tmp_path), 'a.png')
    bad = dict(ann, data_list=[dict(img_path='a.png', caption='', gt_label=0)])
    (tmp_path / 'bad.json').write_text(json.dumps(bad))
    with pytest.raises(ValueError, match='caption'):
        DATASETS.build(dict(type='eva_mm.CaptionedImageDataset', data_root=str(tmp_path),
                            ann_file='bad.json'))
    bad = dict(ann, data_list=[dict(img_path='a.png', caption='x', gt_label=5)])
    (tmp_path / 'bad2.json').write_text(json.dumps(bad))
    with pytest.raises(ValueError, match='gt_label'):
        DATASETS.build(dict(type='eva_mm.CaptionedImageDataset', data_root=str(tmp_path),
                            ann_file='bad2.json', with_label=True))


def test_text_tower_from_whole_open_clip_state_dict(tmp_path):
    """text_checkpoint = a whole open_clip CLIP state dict (the paper config's
    checkpoints/openai_clip_vit-l-14.pth layout): every text weight is loaded by init_weights;
    a projection of another width stays at init."""
    import open_clip
    torch.manual_seed(3)
    clip = open_clip.CLIP(16, dict(image_size=32, patch_size=8, width=32, layers=1,
                                   head_width=16), dict(TINY_TEXT), quick_gelu=True)
    torch.save(clip.state_dict(), tmp_path / 'clip.pth')
    model = build_clip(text_checkpoint=str(tmp_path / 'clip.pth'))  # joint width 24 != 16
    proj_before = model.text.text_projection.clone()
    model.init_weights()
    got, want = model.text.state_dict(), clip.state_dict()
    loaded = [k for k in got if k != 'text_projection']
    assert loaded and all(torch.equal(got[k], want[k]) for k in loaded)
    assert torch.equal(got['text_projection'], proj_before)
