"""The paper Kinetics configs, run as written from a directory laid out as docs/video.md says
(``data/kinetics{400,600,700}/videos_{train,val}/<class_name>/<youtube id>_<start>_<end>.mp4``,
``kinetics*_{train,val}_list_videos.txt``; ``tools/data/build_k722.py`` lists and the
``data/k722/k*/{train,val}`` links), real mp4 files, only the backbone shrunk: K722 trains one
epoch and validates (``tools/train.py``); K400 starts from that checkpoint (backbone + the
K722 head through the class mapping) as its config says, trains one epoch, validates, and
``tools/test.py`` evaluates 4 clips x 3 crops per video. K400 also trains and validates as 2
CPU processes through ``tools/dist_train.sh CONFIG 2``. K600 and K700 (``eva_k600.py``,
``eva_k700.py``) start from a K722 model the same way (head rows through
``k722_to_k{600,700}_mapping.npy``), train, validate once and are tested; their generated
classes have the release's parentheses / apostrophes in the folder names
(``petting_animal_(not_cat)``, ``massaging_person's_head``).

Regression test of issue 13: every Kinetics config died at its first validation (val batch
size 2 vs the model's ``max_testing_views``, which mmaction2 allows with batch 1 only).
The one device override: fp16 ``AmpOptimWrapper`` asserts CUDA in mmengine, so on CPU the
test trains with the plain ``OptimWrapper``.
"""
import importlib.util
import os
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config

from _cli import run_dist_train, run_tool

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
_spec = importlib.util.spec_from_file_location(
    'make_moving_shapes', osp.join(ROOT, 'tools', 'data', 'make_moving_shapes.py'))
ms = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ms)

# two classes per release; K600 and K700 share 'abseiling' with K400 -> K722 has 4 classes.
# Real K600 / K700 class names with '(' ')' and "'" (kept in the folder names by mmaction2's
# rename_classnames.sh, which only turns spaces into '_')
CLASSES = {'400': ['abseiling', 'air drumming'], '600': ['abseiling', 'petting animal (not cat)'],
           '700': ['abseiling', "massaging person's head"]}


pytestmark = pytest.mark.usefixtures('one_thread')  # conftest.py


def write_kinetics(root: str, seed: int = 0) -> None:
    """Under ``root/data``: K400/K600/K700 releases of 2 classes (1 train video each, 1 val
    video), label maps, and the K722 lists + class mappings + links from build_k722.py."""
    rng = np.random.RandomState(seed)
    srcs = []
    for rel, classes in CLASSES.items():
        base = osp.join(root, 'data', f'kinetics{rel}')
        lists = {}
        for split, labels in (('train', (0, 1)), ('val', (0, ))):
            lines = []
            for label in labels:
                folder = classes[label].replace(' ', '_')  # mmaction2's rename_classnames.sh
                name = f'{folder}/{rel}{split}{label:07d}_000000_000010.mp4'
                path = osp.join(base, f'videos_{split}', name)
                os.makedirs(osp.dirname(path), exist_ok=True)
                ms.write_mp4(path, ms.make_video(rng, label, num_frames=12, size=32))
                lines.append(f'{name} {label}\n')
            lists[split] = osp.join(base, f'kinetics{rel}_{split}_list_videos.txt')
            with open(lists[split], 'w') as f:
                f.writelines(lines)
        label_map = osp.join(base, f'label_map_k{rel}.txt')
        with open(label_map, 'w') as f:
            f.write('\n'.join(classes) + '\n')
        srcs += ['--src', f'k{rel}', lists['train'], lists['val'], label_map]
    k722 = osp.join(root, 'data', 'k722')
    assert run_tool(osp.join('data', 'build_k722.py'), ['--out', k722, *srcs]) == 0
    for rel in CLASSES:  # as docs/video.md
        os.makedirs(osp.join(k722, f'k{rel}'))
        for split in ('train', 'val'):
            os.symlink(f'../../kinetics{rel}/videos_{split}', osp.join(k722, f'k{rel}', split))


def tiny_video_cfg(name: str) -> Config:
    """``configs/video/<name>`` as written (its lr schedule too) but a 2-block 32-wide
    backbone, one epoch, one process, the plain OptimWrapper (CPU), no DataLoader workers."""
    cfg = Config.fromfile(osp.join(ROOT, 'configs', 'video', name))
    cfg.model.backbone.update(arch=dict(embed_dims=32, num_layers=2, num_heads=2,
                                        feedforward_channels=64), with_cp=False)
    cfg.model.cls_head.in_channels = 32
    cfg.optim_wrapper.type = 'OptimWrapper'
    cfg.optim_wrapper.pop('loss_scale')
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].update(num_workers=0, persistent_workers=False)
    cfg.train_cfg.max_epochs = 1
    cfg.default_hooks.logger.interval = 1
    cfg.env_cfg.dist_cfg = dict(backend='gloo')
    return cfg


def save_k722_start() -> dict:
    """The tiny K722 recognizer's initial weights (4 classes, not trained) as
    ``work_dirs/eva_k722/epoch_40.pth``, the file eva_k400/600/700.py start from (in the
    current directory); returns its state dict."""
    import torch
    from mmaction.registry import MODELS
    from mmengine.registry import init_default_scope
    k722 = tiny_video_cfg('eva_k722.py')
    k722.model.cls_head.num_classes = 4  # the 4 classes build_k722 merged
    k722.model.backbone.init_cfg = None
    init_default_scope('mmaction')
    start = MODELS.build(k722.model).state_dict()
    os.makedirs('work_dirs/eva_k722')
    torch.save(dict(state_dict=start), 'work_dirs/eva_k722/epoch_40.pth')
    return start


def test_k722_then_k400_train_validate_and_test(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the configs' relative data/ and work_dirs/ paths, as written
    write_kinetics(str(tmp_path))
    lines = open('data/k722/k722_train_list_videos.txt').read().splitlines()
    assert len(lines) == 6
    assert lines[0] == 'k400/train/abseiling/400train0000000_000000_000010.mp4 0'

    k722 = tiny_video_cfg('eva_k722.py')
    k722.model.cls_head.num_classes = 4  # as build_k722 merged the generated releases
    for aug in k722.model.data_preprocessor.blending.augments:  # mixup / cutmix targets
        aug.num_classes = 4
    k722.model.backbone.init_cfg = None  # no EVA MIM file here: a random start, said so
    k722.allow_random_init = True
    k722.dump('eva_k722.py')
    run_tool('train.py', ['eva_k722.py'])  # 3 iterations (batch 2), then 3 val videos
    assert osp.isfile('work_dirs/eva_k722/best_acc_top1_epoch_1.pth')
    # eva_k400.py loads the K722 run's last checkpoint, epoch_40.pth
    os.link('work_dirs/eva_k722/epoch_1.pth', 'work_dirs/eva_k722/epoch_40.pth')

    k400 = tiny_video_cfg('eva_k400.py')
    k400.model.cls_head.num_classes = 2  # the generated K400's label map
    k400.dump('eva_k400.py')
    run_tool('train.py', ['eva_k400.py'])  # from the K722 model; 1 iteration, 1 val video
    metrics = run_tool('test.py', ['eva_k400.py', 'work_dirs/eva_k400/epoch_1.pth'])
    assert set(metrics) >= {'acc/top1', 'acc/top5'} and 0 <= metrics['acc/top1'] <= 1


def test_k400_dist_train_two_processes(tmp_path, monkeypatch):
    """``tools/dist_train.sh configs/video/eva_k400.py 2`` (tiny backbone, CPU, gloo): the 2
    train videos split over 2 processes, one validation, checkpoint and metric written. The
    K722 model it starts from is the tiny K722 recognizer's initial weights (not trained)."""
    import glob
    import json

    import torch
    monkeypatch.chdir(tmp_path)
    write_kinetics(str(tmp_path))
    start = save_k722_start()  # eva_k400's init

    k400 = tiny_video_cfg('eva_k400.py')
    k400.model.cls_head.num_classes = 2
    k400.dump('eva_k400.py')
    run_dist_train('eva_k400.py')
    work = 'work_dirs/eva_k400'
    sd = torch.load(f'{work}/epoch_1.pth', map_location='cpu', weights_only=False)['state_dict']
    # initialised from the K722 file: the head rows of K400's classes through the mapping
    mapping = np.load('data/k722/k722_to_k400_mapping.npy')
    assert (sd['cls_head.fc_cls.weight'] - start['cls_head.fc_cls.weight'][mapping]).abs().max() \
        < 1e-4
    log = glob.glob(f'{work}/*/*.log')
    assert len(log) == 1 and 'Distributed training: True' in open(log[0]).read()
    assert 'GPU number: 2' in open(log[0]).read()  # mmengine's name for the world size
    records = [json.loads(line) for line in open(glob.glob(f'{work}/*/vis_data/scalars.json')[0])]
    train = [r for r in records if 'loss' in r]
    assert len(train) == 1 and np.isfinite(train[0]['loss'])  # 2 videos / 2 processes
    val = [r for r in records if 'acc/top1' in r]
    assert len(val) == 1 and 0 <= val[0]['acc/top1'] <= val[0]['acc/top5'] <= 1


@pytest.mark.parametrize('release', ['600', '700'])
def test_k600_k700_from_k722_train_validate_and_test(tmp_path, monkeypatch, release):
    """``eva_k600.py`` / ``eva_k700.py`` as written (2 classes generated) from a K722 model:
    ``tools/train.py`` (2 videos at batch 1 = 2 iterations, one validation of the val video),
    the head initialised through ``k722_to_k{600,700}_mapping.npy``, then ``tools/test.py``
    (4 clips x 3 crops) on its checkpoint, predictions dumped with ``--out``."""
    import glob
    import json
    import pickle

    import torch
    monkeypatch.chdir(tmp_path)
    write_kinetics(str(tmp_path))
    start = save_k722_start()
    k722_classes = open('data/k722/label_map_k722.txt').read().splitlines()
    mapping = np.load(f'data/k722/k722_to_k{release}_mapping.npy')
    # the K722 index of each class of this release, in its label order
    assert [k722_classes[i] for i in mapping] == CLASSES[release]

    name = f'eva_k{release}'
    cfg = tiny_video_cfg(f'{name}.py')
    assert cfg.model.cls_head.class_mapping == f'data/k722/k722_to_k{release}_mapping.npy'
    assert cfg.train_dataloader.dataset.ann_file == \
        f'data/kinetics{release}/kinetics{release}_train_list_videos.txt'
    cfg.model.cls_head.num_classes = 2  # the generated release's label map
    cfg.dump(f'{name}.py')
    run_tool('train.py', [f'{name}.py'])
    work = f'work_dirs/{name}'
    records = [json.loads(line) for line in open(glob.glob(f'{work}/*/vis_data/scalars.json')[0])]
    assert len([r for r in records if 'loss' in r]) == 2  # 2 train videos, batch 1
    val = [r for r in records if 'acc/top1' in r]
    assert len(val) == 1 and 0 <= val[0]['acc/top1'] <= val[0]['acc/top5'] <= 1
    sd = torch.load(f'{work}/epoch_1.pth', map_location='cpu', weights_only=False)['state_dict']
    # lr 1e-6: the head is still the K722 rows of this release's classes
    assert (sd['cls_head.fc_cls.weight'] - start['cls_head.fc_cls.weight'][mapping]).abs().max() \
        < 1e-4

    metrics = run_tool('test.py', [f'{name}.py', f'{work}/epoch_1.pth', '--out', 'preds.pkl'])
    assert set(metrics) >= {'acc/top1', 'acc/top5'} and 0 <= metrics['acc/top1'] <= 1
    with open('preds.pkl', 'rb') as f:
        preds = pickle.load(f)
    val_list = open(f'data/kinetics{release}/kinetics{release}_val_list_videos.txt').readlines()
    assert len(preds) == len(val_list) == 1
    assert int(preds[0]['gt_label'][0]) == int(val_list[0].split()[1])
    assert preds[0]['pred_score'].shape == (2, ) and preds[0]['img_shape'] == (224, 224)
    assert abs(float(preds[0]['pred_score'].sum()) - 1) < 1e-4  # softmax over the 12 views
