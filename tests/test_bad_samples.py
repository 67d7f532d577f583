"""Corrupt / truncated / empty files in the det, seg, video, cls and pre-training configs'
training sets: by default an error naming the file; with ``eva_mm.SkipBadSamples`` the sample
is skipped with a warning and a count in the log (shared by the DataLoader workers), and too
many skips stop the run."""
import logging
import os
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope

import eva_mm  # noqa: F401
from eva_mm.engine import SkipBadSamples, TooManyBadSamples
from eva_mm.registry import DATASETS
from eva_mm.seg import SegAnnotationError
from eva_mm.video import VideoReadError
from test_cls_imagenet_layout import ROOT, tiny_cls_cfg, write_imagenet
from test_seg_ade20k_layout import ADE_CFG, write_ade20k
from test_video_kinetics_layout import write_kinetics

from _cli import load_data_tool


def _truncate(path: str) -> None:
    data = open(path, 'rb').read()
    with open(path, 'wb') as f:
        f.write(data[:len(data) // 3])


def _train_set(cfg_file: str, scope: str, **dataset):
    init_default_scope(scope)
    ds = Config.fromfile(cfg_file).train_dataloader.dataset
    ds.update(dataset)
    return ds


class _Warnings(logging.Handler):
    """Collects the warnings of mmengine's current logger (which does not propagate)."""

    def __enter__(self):
        from mmengine.logging import MMLogger
        self.messages, self.logger = [], MMLogger.get_current_instance()
        self.logger.addHandler(self)
        return self.messages

    def __exit__(self, *exc):
        self.logger.removeHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno == logging.WARNING:
            self.messages.append(record.getMessage())


def test_seg_corrupt_label_map_named_and_skipped(tmp_path):
    root = write_ade20k(str(tmp_path), num_train=3, num_val=0)
    bad = osp.join(root, 'annotations', 'training', 'ADE_train_00000002.png')
    _truncate(bad)
    ds = _train_set(ADE_CFG, 'mmseg', data_root=root)
    with pytest.raises(SegAnnotationError, match=r'cannot read label map .*'
                                                 r'ADE_train_00000002\.png \(corrupt or trunc'):
        DATASETS.build(ds)[1]
    skip = SkipBadSamples(ds, max_skipped=1)
    with _Warnings() as warnings:
        out = skip[1]  # sample 2 (index 1) is replaced by sample 3
    assert out['data_samples'].img_path.endswith('ADE_train_00000003.jpg')
    assert skip.num_skipped == 1
    assert len(warnings) == 1 and 'skipped img_path=' in warnings[0], warnings
    assert 'ADE_train_00000002.png: SegAnnotationError' in warnings[0]
    assert warnings[0].endswith('[1 skipped so far, limit 1]')
    with pytest.raises(TooManyBadSamples, match=r'2 samples failed to load, more than '
                                                r'max_skipped=1 .*ADE_train_00000002'):
        skip[1]


def test_video_truncated_file_named_and_skipped(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_kinetics(str(tmp_path))
    bad = 'data/kinetics400/videos_train/abseiling/400train0000000_000000_000010.mp4'
    with open(bad, 'wb') as f:
        f.write(b'\x00' * 64)  # not a video
    ds = _train_set(osp.join(ROOT, 'configs', 'video', 'eva_k400.py'), 'mmaction')
    with pytest.raises(VideoReadError, match=r'cannot open video .*400train0000000_0000'):
        DATASETS.build(ds)[0]
    skip = DATASETS.build(dict(type='eva_mm.SkipBadSamples', dataset=ds, max_skipped=0.5))
    assert skip.limit() == 1 and skip[0]['data_samples'].gt_label.item() == 1
    assert skip.num_skipped == 1


def test_cls_run_skips_a_corrupt_image_in_a_worker_and_logs_the_count(tmp_path):
    """A real training run of the IN-1K config, one DataLoader worker process: the skip is
    logged (to the run's log file) and counted in the main process."""
    from mmengine.runner import Runner
    data = str(tmp_path / 'data')
    write_imagenet(data, per_class=2)
    bad = osp.join(data, 'imagenet', 'train', 'n01440764', 'n01440764_1.JPEG')
    with open(bad, 'wb') as f:
        f.write(b'not a jpeg')
    cfg = tiny_cls_cfg('eva_in1k_336.py', data, str(tmp_path / 'work'))
    cfg.train_dataloader.dataset = dict(type='eva_mm.SkipBadSamples', max_skipped=1,
                                        dataset=cfg.train_dataloader.dataset)
    cfg.train_dataloader.update(num_workers=1, persistent_workers=False)
    cfg.train_dataloader.sampler.shuffle = False
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.train_dataloader.dataset.num_skipped == 1
    log = open(osp.join(runner.log_dir, f'{runner.timestamp}.log')).read()
    assert ('SkipBadSamples: skipped img_path=' in log and 'n01440764_1.JPEG: AssertionError: '
            'failed to load image' in log and '[1 skipped so far, limit 1]' in log), log[-2000:]


def test_evaluation_sets_are_refused():
    ds = dict(type='eva_mm.SkipBadSamples', dataset=dict(
        type='eva_mm.ShapesSegDataset', data_root=os.devnull, test_mode=True, lazy_init=True))
    init_default_scope('mmseg')
    with pytest.raises(ValueError, match='SkipBadSamples is for training sets'):
        DATASETS.build(ds)


def test_det_corrupt_image_named_and_skipped(tmp_path):
    """mmdet's COCO training set (the detectors' LSJ pipeline) with a truncated JPEG, as the
    batches of mmdet's AspectRatioBatchSampler reach it (it reads sizes through the wrapper)."""
    from mmdet.datasets.samplers import AspectRatioBatchSampler
    from mmengine.dataset import DefaultSampler
    root = str(tmp_path / 'shapes_det') + '/'
    load_data_tool('make_shapes_det').make_shapes(root, size=64, train=3, val=1, lvis_train=1,
                                              lvis_val=1, verbose=False)
    import json
    imgs = json.load(open(root + 'annotations/instances_train.json'))['images']
    bad = root + imgs[1]['file_name']
    _truncate(bad)
    ds = _train_set(osp.join(ROOT, 'configs/det/eva-tiny_cmrcnn_shapes.py'), 'mmdet',
                    data_root=root)
    plain = DATASETS.build(ds)
    with pytest.raises(Exception, match=r'failed to load image.*' + osp.basename(bad)):
        plain[1]
    skip = SkipBadSamples(ds, max_skipped=1)
    batches = AspectRatioBatchSampler(DefaultSampler(skip, shuffle=False), batch_size=3)
    with _Warnings() as warnings:
        samples = [skip[i] for batch in batches for i in batch]
    assert len(samples) == 3 and skip.num_skipped == 1
    assert samples[1]['data_samples'].img_path.endswith(imgs[2]['file_name'])
    assert any(osp.basename(bad) in w and '[1 skipped so far, limit 1]' in w for w in warnings)


@pytest.mark.parametrize('config', ['eva-tiny_mim_shapes.py', 'eva-tiny_clip_shapes.py'])
def test_pretrain_corrupt_image_named_and_skipped(tmp_path, config):
    """The MIM image folder and the EVA-CLIP image-caption set with an unreadable image."""
    root = load_data_tool('make_captioned_shapes').make_captioned_shapes(
        str(tmp_path / 'captioned'), 3, 1, 48, seed=0, verbose=False)
    names = sorted(os.listdir(osp.join(root, 'train')))
    names = [n for n in names if n.endswith(('.png', '.jpg'))]
    bad = osp.join(root, 'train', names[0])
    with open(bad, 'wb') as f:
        f.write(b'')
    ds = _train_set(osp.join(ROOT, 'configs/pretrain', config), 'mmpretrain', data_root=root)
    plain = DATASETS.build(ds)
    paths = [plain.get_data_info(i)['img_path'] for i in range(len(plain))]
    i_bad = paths.index(bad)
    with pytest.raises(Exception, match=osp.basename(bad)):
        plain[i_bad]
    skip = SkipBadSamples(ds, max_skipped=1)
    with _Warnings() as warnings:
        assert skip[i_bad]['data_samples'] is not None
    assert skip.num_skipped == 1
    assert any(osp.basename(bad) in w and 'skipped so far' in w for w in warnings)
    with pytest.raises(TooManyBadSamples, match='more than max_skipped=1'):
        skip[i_bad]
