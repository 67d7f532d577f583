"""Shapes data, COCO / LVIS evaluation against pycocotools / lvis-api, repeat-factor sampling
and the documented behaviour on bad annotations."""
import copy
import json
import os.path as osp
import warnings

import numpy as np
import pytest
import torch

import eva_mm  # noqa: F401
from _cli import load_data_tool


@pytest.fixture(scope='module')
def shapes(tmp_path_factory):
    out = str(tmp_path_factory.mktemp('shapes_det'))
    paths = load_data_tool('make_shapes_det').make_shapes(out, seed=0, size=64, train=6, val=4,
                                                          lvis_train=24, lvis_val=6, verbose=False)
    return out, paths


def test_generator_is_deterministic_and_lvis_complete(tmp_path, shapes):
    out, paths = shapes
    again = load_data_tool('make_shapes_det').make_shapes(str(tmp_path), seed=0, size=64, train=6,
                                                          val=4, lvis_train=24, lvis_val=6,
                                                          verbose=False)
    for k in paths:
        assert json.load(open(paths[k])) == json.load(open(again[k]))
    lv = json.load(open(paths['lvis_train']))
    assert len(lv['categories']) == 24
    assert {c['frequency'] for c in lv['categories']} <= {'r', 'c', 'f'}
    assert all('neg_category_ids' in im and 'not_exhaustive_category_ids' in im
               for im in lv['images'])
    assert any(im['not_exhaustive_category_ids'] for im in lv['images'])
    coco = json.load(open(paths['train']))
    assert all(a['segmentation'] and a['area'] > 0 for a in coco['annotations'])


def _gt_predictions(ann_file: str, classes, jitter: float = 0., seed: int = 0):
    """Predictions made from the ground truth (optionally with box noise and random scores)
    in mmdet's data-sample format, and the same predictions as a COCO results list."""
    from pycocotools.coco import COCO
    coco = COCO(ann_file)
    name2id = {c['name']: c['id'] for c in coco.loadCats(coco.getCatIds())}
    cat_ids = [name2id[n] for n in classes]
    rng = np.random.default_rng(seed)
    samples, results = [], []
    for img_id in coco.getImgIds():
        info = coco.loadImgs(img_id)[0]
        anns = coco.loadAnns(coco.getAnnIds(imgIds=img_id))
        boxes, scores, labels, masks = [], [], [], []
        for a in anns:
            x, y, w, h = a['bbox']
            noise = rng.normal(0, jitter, 4) * np.array([w, h, w, h]) if jitter else np.zeros(4)
            x1, y1, x2, y2 = np.array([x, y, x + w, y + h]) + noise
            s = float(rng.uniform(0.3, 1.)) if jitter else 1.
            boxes.append([x1, y1, x2, y2])
            scores.append(s)
            labels.append(cat_ids.index(a['category_id']))
            masks.append(coco.annToMask(a).astype(bool))
            results.append(dict(image_id=img_id, category_id=a['category_id'], score=s,
                                bbox=[float(x1), float(y1), float(x2 - x1), float(y2 - y1)]))
        samples.append(dict(
            img_id=img_id, ori_shape=(info['height'], info['width']),
            pred_instances=dict(bboxes=torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
                                scores=torch.tensor(scores), labels=torch.tensor(labels),
                                masks=torch.from_numpy(np.stack(masks)))))
    return samples, results


COCO_CLASSES = ('circle', 'square', 'triangle')


def test_coco_metric_perfect_and_against_pycocotools(shapes):
    from mmdet.evaluation import CocoMetric
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    out, paths = shapes
    # a prediction equal to the ground truth scores AP 1.0 for boxes and masks
    samples, _ = _gt_predictions(paths['val'], COCO_CLASSES)
    metric = CocoMetric(ann_file=paths['val'], metric=['bbox', 'segm'])
    metric.dataset_meta = dict(classes=COCO_CLASSES)
    metric.process({}, copy.deepcopy(samples))
    res = metric.evaluate(len(samples))
    assert res['coco/bbox_mAP'] == pytest.approx(1.0)
    assert res['coco/segm_mAP'] == pytest.approx(1.0)
    # noisy predictions: the metric equals pycocotools' COCOeval on the same detections
    samples, results = _gt_predictions(paths['val'], COCO_CLASSES, jitter=0.08, seed=1)
    metric = CocoMetric(ann_file=paths['val'], metric='bbox')
    metric.dataset_meta = dict(classes=COCO_CLASSES)
    metric.process({}, [dict(s, pred_instances={k: v for k, v in s['pred_instances'].items()
                                                if k != 'masks'}) for s in samples])
    got = metric.evaluate(len(samples))['coco/bbox_mAP']
    gt = COCO(paths['val'])
    ev = COCOeval(gt, gt.loadRes(results), 'bbox')
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    assert 0 < ev.stats[0] < 1
    assert got == pytest.approx(round(ev.stats[0], 3), abs=1e-3)


def test_lvis_metric_perfect_and_against_lvis_api(shapes):
    from lvis import LVIS, LVISEval, LVISResults
    from mmdet.evaluation import LVISMetric
    out, paths = shapes
    cats = json.load(open(paths['lvis_val']))['categories']
    classes = tuple(c['name'] for c in cats)
    samples, _ = _gt_predictions(paths['lvis_val'], classes)
    metric = LVISMetric(ann_file=paths['lvis_val'], metric=['bbox', 'segm'])
    metric.dataset_meta = dict(classes=classes)
    metric.process({}, copy.deepcopy(samples))
    res = metric.evaluate(len(samples))
    assert res['lvis/bbox_AP'] == pytest.approx(1.0)
    assert res['lvis/segm_AP'] == pytest.approx(1.0)
    samples, results = _gt_predictions(paths['lvis_val'], classes, jitter=0.08, seed=2)
    metric = LVISMetric(ann_file=paths['lvis_val'], metric='bbox')
    metric.dataset_meta = dict(classes=classes)
    metric.process({}, [dict(s, pred_instances={k: v for k, v in s['pred_instances'].items()
                                                if k != 'masks'}) for s in samples])
    got = metric.evaluate(len(samples))['lvis/bbox_AP']
    gt = LVIS(paths['lvis_val'])
    ev = LVISEval(gt, LVISResults(gt, results), 'bbox')
    ev.run()
    assert 0 < ev.results['AP'] < 1
    assert got == pytest.approx(round(ev.results['AP'], 3), abs=1e-3)


def test_lvis_dataset_and_repeat_factor_sampling(shapes):
    from mmengine.dataset import ClassBalancedDataset
    from mmengine.registry import init_default_scope
    from eva_mm.det import CheckedLVISV1Dataset
    init_default_scope('mmdet')
    out, paths = shapes
    cats = json.load(open(paths['lvis_train']))['categories']
    ds = CheckedLVISV1Dataset(ann_file=paths['lvis_train'], data_root='', data_prefix=dict(img=out + '/'),
                              metainfo=dict(classes=tuple(c['name'] for c in cats)), pipeline=[])
    assert len(ds) == 24 and osp.isfile(ds[0]['img_path'])
    thr = 0.1
    rfs = ClassBalancedDataset(ds, oversample_thr=thr)
    # repeat factor of an image = max over its categories of max(1, sqrt(thr / f(c)))
    n = len(ds)
    freq = {}
    for i in range(n):
        for c in set(ds.get_cat_ids(i)):
            freq[c] = freq.get(c, 0) + 1 / n
    expect = [max([max(1., (thr / freq[c])**0.5) for c in set(ds.get_cat_ids(i))] or [1.])
              for i in range(n)]
    assert len(rfs) > n
    counts = np.bincount(rfs.repeat_indices, minlength=n)
    assert (counts >= np.floor(expect)).all() and (counts <= np.ceil(expect)).all()


# -- bad annotations ----------------------------------------------------------------------------
def _write_bad(tmp_path, shapes, **edit):
    out, paths = shapes
    d = json.load(open(paths['train']))
    d = edit['fn'](d)
    p = tmp_path / 'bad.json'
    p.write_text(json.dumps(d))
    return str(p), out


def _coco(ann, prefix, **kw):
    from mmengine.registry import init_default_scope
    from eva_mm.det import CheckedCocoDataset
    init_default_scope('mmdet')
    return CheckedCocoDataset(ann_file=ann, data_root='', data_prefix=dict(img=prefix + '/'),
                              metainfo=dict(classes=COCO_CLASSES), pipeline=[], **kw)


def test_bad_boxes_and_empty_images_skipped_with_named_warning(tmp_path, shapes):
    def edit(d):
        a = d['annotations']
        a[0]['bbox'] = [10, 10, 0, 5]  # zero width
        a[0]['area'] = 0
        a[1]['bbox'] = [500, 500, 10, 10]  # outside the 64x64 image
        d['annotations'] = [x for x in a if x['image_id'] != 3]  # image 3: no annotations
        return d
    ann, prefix = _write_bad(tmp_path, shapes, fn=edit)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        ds = _coco(ann, prefix, filter_cfg=dict(filter_empty_gt=True))
    msgs = ' | '.join(str(x.message) for x in w)
    assert 'ann 1 (train/00000.png: zero-area box' in msgs
    assert 'ann 2 (' in msgs and 'outside the 64x64 image' in msgs
    assert 'without usable annotations are not used: 00002.png' in msgs
    assert len(ds) == 5
    n_inst = sum(len(ds.get_data_info(i)['instances']) for i in range(len(ds)))
    d = json.load(open(ann))
    assert n_inst == len(d['annotations']) - 2
    # at test time an image without annotations is kept (it is evaluated)
    assert len(_coco(ann, prefix, test_mode=True)) == 6


def test_unknown_category_is_a_clear_error(tmp_path, shapes):
    def edit(d):
        d['annotations'][4]['category_id'] = 99
        return d
    ann, prefix = _write_bad(tmp_path, shapes, fn=edit)
    with pytest.raises(ValueError, match=r'annotation id 5 of image .* has category_id 99'):
        _coco(ann, prefix)


def test_missing_image_file(tmp_path, shapes):
    def edit(d):
        d['images'][1]['file_name'] = 'train/gone.png'
        return d
    ann, prefix = _write_bad(tmp_path, shapes, fn=edit)
    with pytest.raises(FileNotFoundError, match=r'1 image file\(s\) not found: .*gone.png'):
        _coco(ann, prefix)
    with pytest.warns(UserWarning, match=r'skipped 1 image\(s\) whose file is missing: .*gone'):
        ds = _coco(ann, prefix, missing_images='skip')
    assert len(ds) == 5
    with pytest.raises(ValueError, match='missing_images must be one of'):
        _coco(ann, prefix, missing_images='maybe')
