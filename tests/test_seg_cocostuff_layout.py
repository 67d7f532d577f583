"""The paper COCO-Stuff 164k configs run end to end as written on data laid out as the release
after mmseg's converter (tools/data/make_seg_layouts.py: ``images/{train2017,val2017}/*.jpg``,
``annotations/.../*_labelTrainIds.png``, 171 classes): ``tools/train.py`` for 2 iterations
with one validation (the sliding-window test as written), ``tools/test.py`` on its checkpoint,
``tools/test.py --tta``, the ``_ms`` config, and ``tools/dist_train.sh CONFIG 2`` (two CPU
processes). Overridden only: the model size and every pixel size x 1/7
(tests/test_seg_ade20k_layout.py ``tiny_ade_cfg``, shared with the ADE20K runs), the data root,
the iterations, gloo.

Issue 13: every paper config runs end to end on data in the official layouts."""
import glob
import json
import math
import os
import os.path as osp
import subprocess
import uuid

import numpy as np
import pytest
from mmengine.config import Config
from PIL import Image

import test_seg_ade20k_layout as ade  # its helpers (module import: its tests are not re-run)
from test_det_layouts_train import tools_test
from _cli import load_data_tool, run_tool

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
COCO_CFG = osp.join(ROOT, 'configs', 'seg', 'eva_mask2former_cocostuff.py')
COCO_MS_CFG = osp.join(ROOT, 'configs', 'seg', 'eva_mask2former_cocostuff_ms.py')

pytestmark = pytest.mark.usefixtures('one_thread', 'unformatted_config_text')  # conftest.py


@pytest.fixture(scope='module')
def cocostuff(tmp_path_factory) -> str:
    """2 train + 1 val image, 96 x 128 (COCO's 3:4): short side 128 -> 128 x 171, padded to
    128 x 192, two 128 windows at stride 73 (the paper's 896 windows at stride 512, x 1/7)."""
    return load_data_tool('make_seg_layouts').write_cocostuff164k(
        str(tmp_path_factory.mktemp('cocostuff')), num_train=2, num_val=1, size=ade.IMG_HW)


def tiny_cfg(data_root: str, work_dir: str, cfg_file: str = COCO_CFG) -> Config:
    cfg = ade.tiny_ade_cfg(data_root, work_dir, cfg_file)
    cfg.visualizer.name = f'cocostuff_{uuid.uuid4().hex}'  # a singleton per runner
    return cfg


def _val_mious(work_dir: str) -> list:
    files = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    assert files, f'no scalars.json under {work_dir}'
    recs = [json.loads(line) for line in open(sorted(files)[-1]) if line.strip()]
    return [r['mIoU'] for r in recs if 'mIoU' in r]


def _ok(miou: float) -> bool:
    return math.isfinite(miou) and 0 <= miou <= 100


def test_layout_is_what_cocostuffdataset_reads(cocostuff):
    """The config's datasets find every image with its ``_labelTrainIds.png`` (train ids
    0..170, 255 unlabelled); the release's map beside it holds the same classes as COCO ids - 1."""
    from mmengine.registry import init_default_scope
    from eva_mm.registry import DATASETS
    gen = load_data_tool('make_seg_layouts')
    assert gen.NUM_CLASSES == 171 and len(set(gen.STUFF_MAP_IDS)) == 171
    init_default_scope('mmseg')
    cfg = Config.fromfile(COCO_CFG)
    for dl, n in ((cfg.train_dataloader, 2), (cfg.val_dataloader, 1)):
        ds_cfg = dl.dataset
        ds_cfg.data_root = cocostuff
        ds = DATASETS.build(ds_cfg)
        assert len(ds) == n and len(ds.metainfo['classes']) == 171
        for i in range(n):
            info = ds.get_data_info(i)
            assert info['seg_map_path'].endswith('_labelTrainIds.png')
            train_ids = np.array(Image.open(info['seg_map_path']))
            release = np.array(Image.open(info['seg_map_path'].replace('_labelTrainIds', '')))
            assert train_ids.shape == ade.IMG_HW == Image.open(info['img_path']).size[::-1]
            labelled = train_ids != 255
            assert labelled.any() and (~labelled).any() and train_ids[labelled].max() < 171
            assert (release[~labelled] == 255).all()
            assert (np.array(gen.STUFF_MAP_IDS)[train_ids[labelled]] == release[labelled]).all()


def test_cocostuff_config_trains_validates_and_tests(cocostuff, tmp_path):
    work = tmp_path / 'work'
    cfg = tiny_cfg(cocostuff, str(work))
    # the paper's test geometry, x 1/7
    assert cfg.model.test_cfg == dict(mode='slide', crop_size=(128, 128), stride=(73, 73))
    assert cfg.model.decode_head.num_classes == 171
    cfg_file = str(tmp_path / 'cocostuff_tiny.py')
    cfg.dump(cfg_file)
    run_tool('train.py', [cfg_file])  # 2 iterations, then the validation
    ckpt = work / 'iter_2.pth'
    assert ckpt.is_file()
    val = _val_mious(str(work))
    assert len(val) == 1 and _ok(val[0])

    test = tools_test(cfg_file, str(ckpt), str(tmp_path / 'test'))
    assert set(test) >= {'mIoU', 'aAcc', 'mAcc'}
    assert test['mIoU'] == pytest.approx(val[0], abs=1e-6)  # same model, same windows
    tta = tools_test(cfg_file, str(ckpt), str(tmp_path / 'tta'), '--tta')
    assert _ok(tta['mIoU']) and _ok(tta['aAcc'])
    # the multi-scale config is the same test as --tta
    ms_file = str(tmp_path / 'cocostuff_ms_tiny.py')
    ms_cfg = tiny_cfg(cocostuff, str(tmp_path / 'ms'), COCO_MS_CFG)
    assert ms_cfg.model.type == 'SegTTAModel'
    ms_cfg.dump(ms_file)
    ms = tools_test(ms_file, str(ckpt), str(tmp_path / 'ms_test'))
    assert ms['mIoU'] == pytest.approx(tta['mIoU'], abs=1e-6)
    assert ms['aAcc'] == pytest.approx(tta['aAcc'], abs=1e-6)


def test_cocostuff_dist_train_two_processes(cocostuff, tmp_path):
    """``tools/dist_train.sh eva_mask2former_cocostuff.py 2``: two gloo processes train,
    run the sliding-window validation over both ranks and save."""
    work = tmp_path / 'work'
    cfg_file = str(tmp_path / 'cocostuff_tiny.py')
    tiny_cfg(cocostuff, str(work)).dump(cfg_file)
    env = dict(os.environ, OMP_NUM_THREADS='1')  # no PORT: dist_train.sh picks a free one
    env.pop('PORT', None)
    p = subprocess.run(['bash', osp.join(ROOT, 'tools', 'dist_train.sh'), cfg_file, '2'],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, (p.stdout + p.stderr)[-5000:]
    assert (work / 'iter_2.pth').is_file()
    log = open(glob.glob(str(work / '*' / '*.log'))[0]).read()
    assert 'Distributed training: True' in log and 'GPU number: 2' in log
    val = _val_mious(str(work))
    assert len(val) == 1 and _ok(val[0])


def test_ms_config_with_tta_flag_is_a_clear_error(cocostuff, tmp_path):
    """``tools/test.py eva_mask2former_cocostuff_ms.py CKPT --tta`` wrapped the TTA model in a
    second one, which died at the first image inside mmseg's data preprocessor
    (``TypeError: 'SegDataSample' object is not iterable``); the config's ``tta_model``
    (eva_mm.SegTTAModel) now refuses that when built."""
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    init_default_scope('mmseg')
    ms = tiny_cfg(cocostuff, str(tmp_path), COCO_MS_CFG)
    ms.tta_model.module = ms.model  # what tools/test.py --tta does
    with pytest.raises(ValueError, match=r'SegTTAModel around another test-time-augmentation '
                                         r'model \(SegTTAModel\).*without --tta'):
        MODELS.build(ms.tta_model)
    plain = tiny_cfg(cocostuff, str(tmp_path), COCO_CFG)
    plain.tta_model.module = plain.model
    assert type(MODELS.build(plain.tta_model)).__name__ == 'SegTTAModel'
