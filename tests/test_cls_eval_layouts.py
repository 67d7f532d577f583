"""The paper ImageNet evaluation configs run end to end as written on data in the releases'
on-disk layouts (tools/data/make_cls_eval_layouts.py), only the backbone shrunk, the data root
moved and the iterations cut (tests/test_cls_imagenet_layout.py ``tiny_cls_cfg``):

* ``eva_in1k_560.py`` trains 2 iterations on the ImageNet layout, validates once, and
  ``tools/test.py`` tests its checkpoint;
* ``eva_in1k_336_test-{inv2,real,ina,inr,insketch}.py`` run through ``tools/test.py`` on a
  saved tiny IN-1K model whose head ignores the image (zero weights, a fixed bias ranking of
  the 1000 classes), so each metric is known from the files written alone: a label-order or
  subset-mapping mistake changes it. ``--out`` dumps the predictions, so the number of
  evaluated images is checked against the number written.

Issue 13: every paper config runs end to end on data in the official layouts."""
import os.path as osp
import pickle
import uuid
from typing import Dict, List, Sequence

import pytest
import torch
from mmengine.config import Config

from _cli import load_data_tool, run_tool
from test_cls_imagenet_layout import tiny_cls_cfg, write_imagenet

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
# the head's ranking starts with these classes: 10 and 999 are ImageNet-V2 folders (string
# order would put '10' second and '999' fifth), 230 is in ReaL's set of val image 3, 1 / 6 /
# 113 are in ImageNet-R / -A
RANKING_HEAD = (10, 999, 230, 1, 6, 113)

pytestmark = pytest.mark.usefixtures('one_thread', 'unformatted_config_text')  # conftest.py


def ranking() -> List[int]:
    """The fixed class ranking of the test checkpoint's head: RANKING_HEAD, then the rest."""
    return list(RANKING_HEAD) + [c for c in range(1000) if c not in RANKING_HEAD]


def expected_topk(label_sets: Sequence[Sequence[int]], order: Sequence[int],
                  topk: Sequence[int] = (1, 5)) -> Dict[int, float]:
    """Top-k accuracy (percent) of a classifier that always ranks ``order`` over images
    whose right answers are ``label_sets``."""
    return {k: 100.0 * sum(bool(set(order[:k]) & set(s)) for s in label_sets) / len(label_sets)
            for k in topk}


def eval_cfg(name: str, data: str, work_dir: str) -> Config:
    """``tiny_cls_cfg`` of ``configs/cls/<name>`` with the test set's data root moved from
    ``data/...`` to ``<data>/...`` keeping the path below ``data/`` (the releases' folders)."""
    written = Config.fromfile(osp.join(ROOT, 'configs', 'cls', name)).test_dataloader
    cfg = tiny_cls_cfg(name, data, work_dir)
    rel = osp.relpath(written.dataset.data_root, 'data')
    cfg.test_dataloader.dataset.data_root = osp.join(data, rel)
    cfg.experiment_name = f'{osp.splitext(name)[0]}_{uuid.uuid4().hex}'  # one visualizer each
    return cfg


@pytest.fixture(scope='module')
def layouts(tmp_path_factory) -> dict:
    """IN-1K (train/val/meta), the five robustness layouts, and the test checkpoint."""
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import MODELS
    root = tmp_path_factory.mktemp('cls_eval')
    data = str(root / 'data')
    write_imagenet(data)  # 4 train, 4 val images (ILSVRC2012_val_00000001..4)
    written = load_data_tool('make_cls_eval_layouts').write_all(data, per_class=1, real_val=4)
    cfg = tiny_cls_cfg('eva_in1k_336.py', data, str(root / 'unused'))
    init_default_scope('mmpretrain')
    model = MODELS.build(cfg.model)
    sd = model.state_dict()
    sd['head.fc.weight'].zero_()
    bias = torch.zeros(1000)
    bias[ranking()] = torch.linspace(10., 0., 1000)  # ranking()[0] scores highest
    sd['head.fc.bias'] = bias
    ckpt = str(root / 'in1k_336_fixed_ranking.pth')
    torch.save(dict(state_dict=sd, meta=dict()), ckpt)
    return dict(root=root, data=data, written=written, ckpt=ckpt)


def _test(cfg: Config, ckpt: str, tmp_path) -> tuple:
    """``tools/test.py CONFIG CKPT --out`` -> (metrics, dumped predictions)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = str(tmp_path / 'cfg.py')
    cfg.dump(path)
    out = str(tmp_path / 'preds.pkl')
    metrics = run_tool('test.py', [path, ckpt, '--work-dir', str(tmp_path / 'test'),
                                   '--out', out])
    with open(out, 'rb') as f:
        return metrics, pickle.load(f)


def test_in1k_560_train_validate_and_test(tmp_path):
    """``eva_in1k_560.py``: 2 iterations at 560 (40 x 40 patches), one validation of the 4 val
    images, then ``tools/test.py`` on its (EMA) checkpoint."""
    from mmengine.runner import Runner
    data = str(tmp_path / 'data')
    write_imagenet(data)
    cfg = tiny_cls_cfg('eva_in1k_560.py', data, str(tmp_path / 'in1k_560'))
    assert cfg.train_cfg.max_epochs == 1 and cfg.test_dataloader.dataset.split == 'val'
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.iter == 2  # 4 train images, batch 2
    assert runner.model.state_dict()['backbone.pos_embed'].shape[1] == 1 + 40 * 40
    val = runner.message_hub.get_scalar('val/accuracy/top1').current()
    assert val in (0, 25, 50, 75, 100)  # 4 val images
    metrics, preds = _test(cfg, osp.join(cfg.work_dir, 'epoch_1.pth'), tmp_path)
    assert set(metrics) >= {'accuracy/top1', 'accuracy/top5'}
    assert 0 <= metrics['accuracy/top1'] <= metrics['accuracy/top5'] <= 100
    assert len(preds) == 4 and all(p['img_shape'] == (560, 560) for p in preds)
    assert [osp.basename(p['img_path']) for p in preds] == [
        f'ILSVRC2012_val_{i:08d}.JPEG' for i in range(1, 5)]


def test_imagenet_v2(layouts, tmp_path):
    """Folders named by class index: labels from the name (not string order)."""
    written = layouts['written']['v2']
    cfg = eval_cfg('eva_in1k_336_test-inv2.py', layouts['data'], str(tmp_path))
    metrics, preds = _test(cfg, layouts['ckpt'], tmp_path)
    assert len(preds) == len(written) == 5
    by_path = {osp.realpath(p): label for p, label in written}
    assert [int(p['gt_label'][0]) for p in preds] == [by_path[osp.realpath(p['img_path'])]
                                                      for p in preds]
    want = expected_topk([[label] for _, label in written], ranking())
    assert want[1] > 0 and want[5] > want[1]  # the ranking hits folders 10 and 999
    assert metrics['accuracy/top1'] == pytest.approx(want[1])
    assert metrics['accuracy/top5'] == pytest.approx(want[5])


def test_imagenet_real(layouts, tmp_path):
    """The IN val images against the ReaL label sets: timm's copy (the config as written),
    then the generated ``real.json`` (``real_json=``); empty sets are not counted."""
    from eva_mm.cls import load_real_labels
    timm_sets = load_real_labels()[:4]
    assert [] in timm_sets  # ILSVRC2012_val_00000001 is unlabelled in ReaL
    cfg = eval_cfg('eva_in1k_336_test-real.py', layouts['data'], str(tmp_path))
    metrics, preds = _test(cfg, layouts['ckpt'], tmp_path / 'as_written')
    assert len(preds) == 4
    counted = [s for s in timm_sets if s]
    want = expected_topk(counted, ranking())
    assert want[5] > 0
    assert metrics['real/top1'] == pytest.approx(want[1])
    assert metrics['real/top5'] == pytest.approx(want[5])

    path, sets = layouts['written']['real']  # built on meta/val.txt: labels 0, 0, 1, 1
    assert sets == [[], [0, 1], [1], [1, 2]]
    cfg.test_evaluator.real_json = path
    cfg.experiment_name += '_real_json'
    metrics, preds = _test(cfg, layouts['ckpt'], tmp_path / 'real_json')
    assert len(preds) == 4
    want = expected_topk([s for s in sets if s], ranking())
    assert metrics['real/top1'] == pytest.approx(want[1])
    assert metrics['real/top5'] == pytest.approx(want[5])


@pytest.mark.parametrize('name,subset', [('eva_in1k_336_test-ina.py', 'imagenet-a'),
                                         ('eva_in1k_336_test-inr.py', 'imagenet-r')])
def test_imagenet_a_r(layouts, tmp_path, name, subset):
    """200 WordNet-id folders; the 1000-way scores restricted to them (SubsetAccuracy)."""
    from eva_mm.cls import imagenet_synsets, subset_indices, subset_synsets
    written = layouts['written'][subset[-1]]
    cfg = eval_cfg(name, layouts['data'], str(tmp_path))
    metrics, preds = _test(cfg, layouts['ckpt'], tmp_path)
    assert len(preds) == len(written) == 200
    local = {w: i for i, w in enumerate(subset_synsets(subset))}
    by_path = {osp.realpath(p): w for p, w in written}
    assert [int(p['gt_label'][0]) for p in preds] == [
        local[by_path[osp.realpath(p['img_path'])]] for p in preds]
    full = {w: i for i, w in enumerate(imagenet_synsets())}
    order = [c for c in ranking() if c in set(subset_indices(subset))]
    want = expected_topk([[full[w]] for _, w in written], order)
    assert want[1] > 0
    assert metrics['accuracy/top1'] == pytest.approx(want[1])
    assert metrics['accuracy/top5'] == pytest.approx(want[5])


def test_imagenet_sketch(layouts, tmp_path):
    """1000 WordNet-id folders under ``sketch/``, grey and RGB JPEGs, plain Accuracy."""
    from eva_mm.cls import imagenet_synsets
    written = layouts['written']['sketch']
    cfg = eval_cfg('eva_in1k_336_test-insketch.py', layouts['data'], str(tmp_path))
    assert cfg.test_dataloader.dataset.data_root.endswith(osp.join('imagenet-sketch', 'sketch'))
    metrics, preds = _test(cfg, layouts['ckpt'], tmp_path)
    assert len(preds) == len(written) == 1000
    full = {w: i for i, w in enumerate(imagenet_synsets())}
    by_path = {osp.realpath(p): w for p, w in written}
    assert [int(p['gt_label'][0]) for p in preds] == [
        full[by_path[osp.realpath(p['img_path'])]] for p in preds]
    want = expected_topk([[full[w]] for _, w in written], ranking())
    assert metrics['accuracy/top1'] == pytest.approx(want[1])
    assert metrics['accuracy/top5'] == pytest.approx(want[5])


def test_generator_cli(tmp_path):
    """``python tools/data/make_cls_eval_layouts.py OUT --sets v2 real``."""
    assert run_tool(osp.join('data', 'make_cls_eval_layouts.py'),
                    [str(tmp_path), '--sets', 'v2', 'real', '--v2-classes', '3', '11',
                     '--per-class', '2', '--real-val', '5']) == 0
    v2 = tmp_path / 'imagenetv2' / 'imagenetv2-matched-frequency-format-val'
    files = sorted(p.relative_to(v2).parts[0] for p in v2.glob('*/*.jpeg'))
    assert files == ['11', '11', '3', '3']
    assert all(len(p.stem) == 40 for p in v2.glob('*/*.jpeg'))
    import json
    sets = json.loads((tmp_path / 'imagenet-real' / 'real.json').read_text())
    assert len(sets) == 5 and sets[0] == [] and all(0 <= c < 1000 for s in sets for c in s)
