"""The paper ADE20K configs, run as written on data laid out as ADE20K ships
(``ADEChallengeData2016/images/{training,validation}/*.jpg`` + ``annotations/.../*.png``),
with only the model shrunk and every pixel size of the config scaled by 1/7 (896 windows at
stride 512 -> 128 at stride 73, short side 896 -> 128, the TTA's 7 scales alike; a validation
image gets two windows, as at the paper's size; ~50x less compute): train with one validation,
``tools/test.py``, ``tools/test.py --tta`` (7 scales x flip) and the ``_ms`` config.

Regression tests of issue 13: the validation died in ``CheckSegLabels`` (resized image vs the
label map at its original size) and then in the sliding-window test (Mask2Former logits at the
whole padded image's size, eva_mm.compat fix 8).
"""
import os
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config
from PIL import Image

from _cli import run_tool

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
ADE_CFG = osp.join(ROOT, 'configs', 'seg', 'eva_mask2former_ade20k.py')
ADE_MS_CFG = osp.join(ROOT, 'configs', 'seg', 'eva_mask2former_ade20k_ms.py')
COCO_CFG = osp.join(ROOT, 'configs', 'seg', 'eva_mask2former_cocostuff.py')
TINY_CFG = osp.join(ROOT, 'configs', 'seg', 'eva-tiny_mask2former_shapes.py')
# ADE20K images have a 3:4 aspect (mostly 512x683); 96x128 files resize to 128x171 (the paper
# geometry: 896x1195), padded to 128x192: two 128 windows as the paper's two 896 windows
IMG_HW = (96, 128)
SCALE = 1 / 7


pytestmark = pytest.mark.usefixtures('one_thread', 'unformatted_config_text')  # conftest.py


def write_ade20k(root: str, num_train: int = 2, num_val: int = 1, seed: int = 0) -> str:
    """A few random images in ADE20K's on-disk layout; labels 0 (other) .. 150, as ADE20K's
    PNGs (read with ``reduce_zero_label=True``). Returns the ``ADEChallengeData2016`` dir."""
    rng = np.random.RandomState(seed)
    base = osp.join(root, 'ADEChallengeData2016')
    for split, prefix, n in (('training', 'ADE_train', num_train),
                             ('validation', 'ADE_val', num_val)):
        for d in ('images', 'annotations'):
            os.makedirs(osp.join(base, d, split), exist_ok=True)
        for i in range(1, n + 1):
            h, w = IMG_HW
            img = rng.randint(0, 256, (h // 8, w // 8, 3), dtype=np.uint8)
            img = np.kron(img, np.ones((8, 8, 1), np.uint8))
            label = np.zeros((h, w), np.uint8)
            for _ in range(4):  # four rectangles of random classes 1..150
                y, x = rng.randint(0, h - 16), rng.randint(0, w - 16)
                label[y:y + rng.randint(8, 48), x:x + rng.randint(8, 48)] = rng.randint(1, 151)
            name = f'{prefix}_{i:08d}'
            Image.fromarray(img).save(osp.join(base, 'images', split, name + '.jpg'))
            Image.fromarray(label).save(osp.join(base, 'annotations', split, name + '.png'))
    return base


def scale_sizes(node, f: float):
    """Multiply every pixel size of a config part by ``f``, in place: ``scale`` of
    (Random)Resize, ``crop_size``, ``size`` (data preprocessor) and ``stride``."""
    if isinstance(node, (list, tuple)):
        for item in node:
            scale_sizes(item, f)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key in ('scale', 'crop_size', 'size', 'stride') and isinstance(value, tuple):
                node[key] = tuple(max(1, round(v * f)) for v in value)
            elif key == 'size' and node.get('type') == 'eva_mm.PadShortSide':
                node[key] = max(1, round(value * f))
            else:
                scale_sizes(value, f)


def tiny_ade_cfg(data_root: str, work_dir: str, cfg_file: str = ADE_CFG) -> Config:
    """``cfg_file`` as written, except: the model of the tiny shapes config (4-block 96-wide
    ViT, 64-wide head) with the ADE20K classes, no pretrained file, every pixel size x 1/7,
    one process, 2 iterations then one validation, a checkpoint at the end."""
    cfg = Config.fromfile(cfg_file)
    tiny = Config.fromfile(TINY_CFG).model
    model = cfg.model.module if cfg.model.type == 'SegTTAModel' else cfg.model
    num_classes = model.decode_head.num_classes
    model.backbone = tiny.backbone
    model.backbone.vit.init_cfg = None
    head = tiny.decode_head
    head.num_classes = num_classes
    head.loss_cls.class_weight = [1.0] * num_classes + [0.1]
    model.decode_head = head
    cfg.allow_random_init = True  # the pretrained-weights guard: this model starts random
    cfg.load_from = None  # (the paper ADE20K run starts from the COCO-Stuff segmenter)
    for part in ('model', 'train_dataloader', 'val_dataloader', 'test_dataloader',
                 'tta_pipeline'):
        scale_sizes(cfg[part], SCALE)
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dl = cfg[name]
        dl.dataset.data_root = data_root
        dl.num_workers = 0
        dl.persistent_workers = False
    cfg.train_dataloader.batch_size = 1
    cfg.work_dir = work_dir
    cfg.train_cfg.max_iters = 2
    cfg.train_cfg.val_interval = 2
    cfg.param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False)]
    cfg.default_hooks.logger.interval = 1
    cfg.default_hooks.checkpoint.interval = 2
    cfg.default_hooks.visualization = dict(type='SegVisualizationHook')
    cfg.env_cfg.dist_cfg = dict(backend='gloo')
    cfg.env_cfg.cudnn_benchmark = False
    return cfg


def test_ade20k_config_trains_validates_and_tests_with_sliding_windows(tmp_path):
    from mmengine.runner import Runner
    data_root = write_ade20k(str(tmp_path / 'data'))
    cfg = tiny_ade_cfg(data_root, str(tmp_path / 'work'))
    # the paper's test geometry, x 1/7
    assert cfg.model.test_cfg == dict(mode='slide', crop_size=(128, 128), stride=(73, 73))
    assert cfg.val_dataloader.dataset.pipeline[1].scale == (512, 128)
    runner = Runner.from_cfg(cfg)
    runner.train()  # 2 iterations, then the validation: 128x171 -> two 128 windows
    val = runner.message_hub.get_scalar('val/mIoU').current()
    assert 0 <= val <= 100
    ckpt = osp.join(cfg.work_dir, 'iter_2.pth')
    assert osp.isfile(ckpt)

    # tools/test.py (single scale) and tools/test.py --tta with the trained checkpoint
    cfg_file = str(tmp_path / 'ade20k_tiny.py')
    cfg.dump(cfg_file)
    test = run_tool('test.py', [cfg_file, ckpt, '--work-dir', str(tmp_path / 'test')])
    assert test['mIoU'] == pytest.approx(val, abs=1e-6)  # same model, same windows
    tta = run_tool('test.py', [cfg_file, ckpt, '--tta', '--work-dir', str(tmp_path / 'tta')])
    assert 0 <= tta['mIoU'] <= 100
    # the multi-scale config is the same test
    ms_file = str(tmp_path / 'ade20k_ms_tiny.py')
    tiny_ade_cfg(data_root, str(tmp_path / 'ms'), ADE_MS_CFG).dump(ms_file)
    ms = run_tool('test.py', [ms_file, ckpt])
    assert ms['mIoU'] == pytest.approx(tta['mIoU'], abs=1e-6)


def test_label_map_at_its_image_size_passes_the_test_pipeline_check(tmp_path):
    """The test pipeline resizes the image before loading the label map (evaluation at the
    original size): CheckSegLabels compares the label map with the image file's size; a label
    map of another size is still rejected, naming both files."""
    from mmengine.registry import init_default_scope
    from eva_mm.registry import DATASETS
    from eva_mm.seg import SegAnnotationError
    data_root = write_ade20k(str(tmp_path), num_train=0, num_val=1)
    init_default_scope('mmseg')
    ds_cfg = Config.fromfile(ADE_CFG).val_dataloader.dataset
    ds_cfg.data_root = data_root
    out = DATASETS.build(ds_cfg)[0]
    # resized image (paper sizes here): short side 896 -> 896x1195, then the official
    # ResizeToMultiple(32) -> 896x1216
    assert out['inputs'].shape[-2:] == (896, 1216)
    assert out['data_samples'].gt_sem_seg.data.shape[-2:] == IMG_HW  # label at its size
    bad = osp.join(data_root, 'annotations', 'validation', 'ADE_val_00000001.png')
    Image.fromarray(np.zeros((90, 128), np.uint8)).save(bad)
    with pytest.raises(SegAnnotationError,
                       match=r'ADE_val_00000001\.png is 90x128 \(HxW\) but its image .*'
                             r'ADE_val_00000001\.jpg is 96x128 \(resized to 896x1216'):
        DATASETS.build(ds_cfg)[0]


def test_ade20k_starts_from_the_cocostuff_segmenter(tmp_path):
    """The official ADE20K run is initialised from the COCO-Stuff segmenter (``load_from``):
    training refuses to start while that file is missing, naming the key, the file and where
    to get it; given a COCO-Stuff checkpoint (171 classes) every weight but the class-count
    dependent ones comes from it (mmengine's non-strict load, as mmcv's in the official run)."""
    import copy
    import torch
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner
    from mmseg.registry import MODELS
    from eva_mm.engine import MissingWeightsError
    data_root = write_ade20k(str(tmp_path / 'data'), num_train=1, num_val=1)
    assert Config.fromfile(ADE_CFG).load_from  # the paper config names the COCO-Stuff model
    coco_cfg = tiny_ade_cfg(data_root, str(tmp_path / 'coco'), COCO_CFG)
    init_default_scope('mmseg')
    torch.manual_seed(1)
    coco = MODELS.build(coco_cfg.model)
    coco.init_weights()
    ckpt = str(tmp_path / 'cocostuff_segmenter.pth')
    torch.save({'meta': {}, 'state_dict': coco.state_dict()}, ckpt)

    cfg = tiny_ade_cfg(data_root, str(tmp_path / 'ade'))
    cfg.allow_random_init = False
    cfg.load_from = str(tmp_path / 'missing.pth')
    with pytest.raises(MissingWeightsError,
                       match=r"load_from = '.*missing\.pth': file not found.*cocostuff_53p4"):
        Runner.from_cfg(copy.deepcopy(cfg)).train()
    cfg.load_from = ckpt
    runner = Runner.from_cfg(cfg)
    runner.load_or_resume()
    got, src = runner.model.state_dict(), coco.state_dict()
    assert set(got) == set(src)
    differ = sorted(k for k in got if got[k].shape != src[k].shape
                    or not torch.equal(got[k], src[k]))
    assert differ == ['decode_head.cls_embed.bias', 'decode_head.cls_embed.weight']
    assert got['decode_head.cls_embed.weight'].shape[0] == 151  # 150 ADE20K classes + none
