"""Robustness-set evaluation pieces of eva_mm.cls: IN-A/IN-R subset accuracy (1000-way logits
restricted to 200 classes), ImageNet-ReaL accuracy, the ImageNet-V2 folder layout."""
import os

import numpy as np
import pytest
import torch
from PIL import Image

import eva_mm  # noqa: F401
from eva_mm.cls import (ImageNetV2, ReaLAccuracy, SubsetAccuracy, imagenet_synsets,
                        load_real_labels, subset_indices, subset_synsets)


def _samples(scores, labels, paths=None):
    out = []
    for i, (s, g) in enumerate(zip(scores, labels)):
        d = dict(pred_score=s, gt_label=torch.tensor([int(g)]))
        if paths is not None:
            d['img_path'] = paths[i]
        out.append(d)
    return out


@pytest.mark.parametrize('subset', ['imagenet-a', 'imagenet-r'])
def test_subset_indices_are_the_subset_wnids(subset):
    idx = subset_indices(subset)
    full = imagenet_synsets()
    assert len(full) == 1000 and full == sorted(full)
    assert len(idx) == 200 and idx == sorted(idx) and len(set(idx)) == 200
    assert [full[i] for i in idx] == subset_synsets(subset)


def test_subset_accuracy_masks_logits():
    torch.manual_seed(0)
    idx = subset_indices('imagenet-a')
    n = 64
    scores = torch.randn(n, 1000)
    labels = torch.randint(0, 200, (n, ))
    # half the images: the true class wins inside the subset, while a class OUTSIDE the subset
    # has the largest logit overall -> right only if the logits are masked
    outside = next(i for i in range(1000) if i not in set(idx))
    for i in range(0, n, 2):
        scores[i, idx[labels[i]]] = 10.
        scores[i, outside] = 20.
    metric = SubsetAccuracy(subset='imagenet-a', topk=(1, 5))
    metric.dataset_meta = dict(classes=subset_synsets('imagenet-a'))
    metric.process(None, _samples(scores, labels))
    res = metric.evaluate(n)
    sub = scores[:, idx]
    top1 = (sub.argmax(1) == labels).float().mean().item() * 100
    top5 = (sub.topk(5, 1).indices == labels[:, None]).any(1).float().mean().item() * 100
    assert res['accuracy/top1'] == pytest.approx(top1)
    assert res['accuracy/top5'] == pytest.approx(top5)
    assert top1 >= 50.  # the planted half is right ...
    unmasked = (scores.argmax(1) == torch.tensor(idx)[labels]).float().mean().item() * 100
    assert unmasked < top1  # ... and would be wrong without masking


def test_subset_accuracy_errors():
    with pytest.raises(ValueError, match='exactly one'):
        SubsetAccuracy()
    with pytest.raises(ValueError, match='unknown ImageNet subset'):
        SubsetAccuracy(subset='imagenet-x')
    with pytest.raises(ValueError, match='unique and ascending'):
        SubsetAccuracy(indices=[3, 1])
    m = SubsetAccuracy(indices=[1, 5, 7], num_full_classes=10)
    with pytest.raises(ValueError, match='subset-local label'):
        m.process(None, _samples(torch.randn(1, 10), [3]))
    with pytest.raises(ValueError, match='expects 10 class scores'):
        m.process(None, _samples(torch.randn(1, 9), [0]))
    m = SubsetAccuracy(subset='imagenet-r')
    m.dataset_meta = dict(classes=subset_synsets('imagenet-a'))  # wrong folder set
    with pytest.raises(ValueError, match='not the 200 imagenet-r WordNet ids'):
        m.process(None, _samples(torch.randn(1, 1000), [0]))


def test_real_accuracy_against_direct_count(tmp_path):
    labels = load_real_labels()
    assert len(labels) == 50000
    torch.manual_seed(0)
    ids = list(range(0, 400))
    scores = torch.randn(len(ids), 1000)
    paths = [f'/x/val/ILSVRC2012_val_{i + 1:08d}.JPEG' for i in ids]
    # make some predictions right on purpose
    for j, i in enumerate(ids[::3]):
        if labels[i]:
            scores[3 * j, labels[i][-1]] = 50.
    m = ReaLAccuracy(topk=(1, 5))
    m.process(None, _samples(scores, [0] * len(ids), paths))
    res = m.evaluate(len(ids))
    counted = [j for j, i in enumerate(ids) if labels[i]]
    hit1 = sum(int(scores[j].argmax()) in labels[ids[j]] for j in counted)
    hit5 = sum(bool(set(scores[j].topk(5).indices.tolist()) & set(labels[ids[j]]))
               for j in counted)
    assert res['real/top1'] == pytest.approx(100. * hit1 / len(counted))
    assert res['real/top5'] == pytest.approx(100. * hit5 / len(counted))
    assert 25. < res['real/top1'] < 100.
    # custom real.json + clear errors
    p = tmp_path / 'real.json'
    p.write_text('[[1], [], [2, 3]]')
    m = ReaLAccuracy(real_json=str(p))
    with pytest.raises(ValueError, match='not an ImageNet val image'):
        m.process(None, _samples(torch.randn(1, 5), [0], ['/x/cat.jpg']))
    with pytest.raises(FileNotFoundError, match='not found'):
        ReaLAccuracy(real_json=str(tmp_path / 'missing.json'))


def _img(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(path)


def test_imagenet_v2_labels_from_folder_names(tmp_path):
    for c in (0, 2, 10, 100):
        _img(str(tmp_path / str(c) / f'{c}.jpeg'))
    ds = ImageNetV2(data_root=str(tmp_path), pipeline=[])
    infos = [ds.get_data_info(i) for i in range(len(ds))]
    got = {os.path.basename(d['img_path']): d['gt_label'] for d in infos}
    # a string sort of the folders would give 0, 1, 2, 3 for 0, 10, 100, 2
    assert got == {'0.jpeg': 0, '2.jpeg': 2, '10.jpeg': 10, '100.jpeg': 100}
    assert len(ds.metainfo['classes']) == 1000
    _img(str(tmp_path / 'n01440764' / 'a.jpeg'))
    with pytest.raises(ValueError, match='is not a class index'):
        ImageNetV2(data_root=str(tmp_path), pipeline=[])
