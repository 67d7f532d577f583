"""Tiny shapes data: generation, a short training run + IoUMetric evaluation, bad labels."""
import copy
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config
from PIL import Image

from _cli import load_data_tool

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CFG = osp.join(ROOT, 'configs', 'seg', 'eva-tiny_mask2former_shapes.py')


pytestmark = pytest.mark.usefixtures('one_thread')  # conftest.py


@pytest.fixture(scope='module')
def shapes_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('shapes_seg'))
    gen = load_data_tool('make_shapes_seg')
    gen.write_split(root, 'training', 16, 64, seed=0)
    gen.write_split(root, 'validation', 8, 64, seed=1)
    return root


def test_generator_is_deterministic_and_ade_layout(shapes_root, tmp_path):
    gen = load_data_tool('make_shapes_seg')
    gen.write_split(str(tmp_path), 'training', 3, 64, seed=0)
    for i in range(3):
        name = f'shapes_{i:06d}'
        a = np.array(Image.open(osp.join(shapes_root, 'annotations/training', name + '.png')))
        b = np.array(Image.open(osp.join(tmp_path, 'annotations/training', name + '.png')))
        np.testing.assert_array_equal(a, b)
        assert osp.isfile(osp.join(shapes_root, 'images/training', name + '.jpg'))
    ids = set()
    for i in range(16):
        ids |= set(np.unique(np.array(Image.open(
            osp.join(shapes_root, 'annotations/training', f'shapes_{i:06d}.png')))).tolist())
    assert ids <= {0, 1, 2, 3, 4, 5} and len(ids - {0}) >= 4


def _cfg(root: str, work_dir: str, iters: int) -> Config:
    cfg = Config.fromfile(CFG)
    for dl in (cfg.train_dataloader, cfg.val_dataloader, cfg.test_dataloader):
        dl.dataset.data_root = root
        dl.num_workers = 0
        dl.persistent_workers = False
        dl.batch_size = 4
    cfg.work_dir = work_dir
    cfg.train_cfg.max_iters = iters
    cfg.train_cfg.val_interval = iters
    cfg.param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False)]
    cfg.optim_wrapper.optimizer.lr = 1e-3
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=-1)
    return cfg


def test_train_step_and_evaluation(shapes_root, tmp_path):
    from mmengine.runner import Runner
    cfg = _cfg(shapes_root, str(tmp_path / 'work'), iters=24)
    runner = Runner.from_cfg(cfg)
    runner.train()
    losses = runner.message_hub.get_scalar('train/loss').data[0]
    assert len(losses) == 24
    assert np.isfinite(losses).all()
    assert np.mean(losses[-6:]) < 0.8 * np.mean(losses[:3]), losses
    # the loss has Mask2Former's parts, one per decoder layer
    keys = runner.message_hub.log_scalars.keys()
    assert 'train/decode.loss_dice' in keys and 'train/decode.d3.loss_mask' in keys
    metrics = runner.test()
    assert set(metrics) >= {'aAcc', 'mIoU', 'mAcc'}
    assert 0 <= metrics['mIoU'] <= 100 and 0 < metrics['aAcc'] <= 100

    # multi-scale + flip TTA as tools/test.py --tta sets it up, with the trained weights
    tta = _cfg(shapes_root, str(tmp_path / 'tta'), iters=1)
    tta.test_dataloader.dataset.pipeline = tta.tta_pipeline
    tta.tta_model.module = tta.model
    tta.model = tta.tta_model
    tta_runner = Runner.from_cfg(tta)
    tta_runner.model.module.load_state_dict(runner.model.state_dict())
    tta_metrics = tta_runner.test()
    assert 0 <= tta_metrics['mIoU'] <= 100 and 0 < tta_metrics['aAcc'] <= 100


def _write_pair(root: str, name: str, img: np.ndarray, label: np.ndarray) -> None:
    import os
    for d in ('images/validation', 'annotations/validation'):
        os.makedirs(osp.join(root, d), exist_ok=True)
    Image.fromarray(img).save(osp.join(root, 'images/validation', name + '.jpg'))
    Image.fromarray(label).save(osp.join(root, 'annotations/validation', name + '.png'))


def _dataset(root: str):
    from mmengine.registry import init_default_scope
    from eva_mm.registry import DATASETS
    init_default_scope('mmseg')
    cfg = Config.fromfile(CFG)
    ds = copy.deepcopy(cfg.val_dataloader.dataset)
    ds.data_root = root
    return DATASETS.build(ds)


def test_label_ids_out_of_range_are_rejected(tmp_path):
    from eva_mm.seg import SegAnnotationError
    img = np.zeros((32, 40, 3), np.uint8)
    label = np.ones((32, 40), np.uint8)
    label[3, 4] = 9  # 5 classes: file ids 1..5 (0 unlabelled); 9 -> class 8 is invalid
    _write_pair(str(tmp_path), 'bad_ids', img, label)
    ds = _dataset(str(tmp_path))
    with pytest.raises(SegAnnotationError, match=r'bad_ids\.png holds class ids \[8\] '
                                                 r'outside \[0, 4\]'):
        ds[0]


def test_ignore_index_and_valid_ids_pass(tmp_path):
    img = np.zeros((32, 40, 3), np.uint8)
    label = np.zeros((32, 40), np.uint8)  # 0 -> 255 (ignored) under reduce_zero_label
    label[:10] = 5
    _write_pair(str(tmp_path), 'ok', img, label)
    out = _dataset(str(tmp_path))[0]
    assert set(np.unique(out['data_samples'].gt_sem_seg.data.numpy())) == {4, 255}


def test_image_label_size_mismatch_is_rejected(tmp_path):
    from eva_mm.seg import SegAnnotationError
    _write_pair(str(tmp_path), 'mismatch', np.zeros((32, 40, 3), np.uint8),
                np.ones((30, 40), np.uint8))
    ds = _dataset(str(tmp_path))
    with pytest.raises(SegAnnotationError, match=r'mismatch\.png is 30x40 .* is 32x40'):
        ds[0]


def test_check_seg_labels_needs_annotations():
    from eva_mm.seg import CheckSegLabels, SegAnnotationError
    with pytest.raises(SegAnnotationError, match='put it after LoadAnnotations'):
        CheckSegLabels(num_classes=3)(dict(img=np.zeros((4, 4, 3))))
    with pytest.raises(ValueError, match='num_classes must be a positive int'):
        CheckSegLabels(num_classes=0)
