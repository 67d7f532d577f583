"""tools/demo/image_demo.py and tools/demo/video_demo.py run in-process through ``main(argv)`` on
generated files: outputs exist, have the input's size, differ from the input, and the JSON holds
the expected keys and number of classes; a released-layout checkpoint is converted and used;
bad inputs give a clear error. The built-in tiny models run with random weights here (a trained
checkpoint in work_dirs/ is hidden), so the results do not depend on what was trained."""
import importlib.util
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / 'tools' / 'demo' / f'{name}.py')
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


image_demo = _load('image_demo')
video_demo = _load('video_demo')
demo_utils = sys.modules['demo_utils']


@pytest.fixture(autouse=True)
def random_builtin(monkeypatch, tmp_path):
    """Point the built-in models' trained checkpoints at absent files: random weights."""
    for task, (cfg, _) in list(demo_utils.BUILTIN.items()):
        monkeypatch.setitem(demo_utils.BUILTIN, task, (cfg, str(tmp_path / 'absent.pth')))
    torch.manual_seed(0)


def _image(path: Path, size=(96, 72)) -> np.ndarray:
    im = Image.new('RGB', size, (30, 30, 40))
    d = ImageDraw.Draw(im)
    d.ellipse((8, 8, 40, 40), fill=(220, 60, 60))
    d.rectangle((50, 30, 85, 65), fill=(60, 200, 80))
    im.save(path)
    return np.asarray(im)


def _check_png(path: Path, ref: np.ndarray) -> None:
    out = np.asarray(Image.open(path).convert('RGB'))
    assert out.shape == ref.shape
    assert np.abs(out.astype(int) - ref).mean() > 1.0, 'nothing was drawn'


@pytest.mark.parametrize('task,num_classes', [('det', 3), ('seg', 5), ('cls', 4)])
def test_image_demo_builtin(tmp_path, capsys, task, num_classes):
    ref = _image(tmp_path / 'img.jpg')
    out_dir = tmp_path / 'out'
    argv = [str(tmp_path / 'img.jpg'), '--task', task, '--out-dir', str(out_dir)]
    if task == 'det':
        argv += ['--score-thr', '0']  # random weights: draw every detection
    assert image_demo.main(argv) == 0
    assert 'RANDOM weights' in capsys.readouterr().out
    _check_png(out_dir / f'img_{task}.png', ref)
    pred = json.loads((out_dir / f'img_{task}.json').read_text())
    assert len(pred['classes']) == num_classes
    if task == 'det':
        assert pred['classes'] == ['circle', 'square', 'triangle']
        assert len(pred['labels']) == len(pred['scores']) == len(pred['bboxes']) > 0
        assert all(0 <= label < num_classes for label in pred['labels'])
    elif task == 'seg':
        assert pred['shape'] == [72, 96]
        assert len(pred['class_pixels']) == num_classes
        assert sum(pred['class_pixels']) == 72 * 96
    else:
        assert pred['classes'] == ['circle', 'cross', 'square', 'triangle']
        assert len(pred['pred_scores']) == num_classes
        assert abs(sum(pred['pred_scores']) - 1) < 1e-4
        assert pred['pred_class'] == pred['classes'][pred['pred_label']]


def test_image_demo_released_classifier(tmp_path, capsys):
    """A classifier in the released EVA-01 layout (unprefixed ViT + fc_norm + head) is
    converted on load and its weights are used: a head biased to class 2 predicts it."""
    from mmpretrain.apis import get_model
    cfg = str(ROOT / 'configs' / 'cls' / 'eva-tiny_shapes.py')
    own = get_model(cfg).state_dict()
    official = {k[len('backbone.'):]: v for k, v in own.items() if k.startswith('backbone.')}
    official['head.weight'] = torch.zeros_like(own['head.fc.weight'])
    official['head.bias'] = torch.tensor([0., 0., 30., 0.])
    torch.save({'model': official}, tmp_path / 'official.pth')
    _image(tmp_path / 'img.png', size=(40, 40))
    argv = [str(tmp_path / 'img.png'), '--task', 'cls', '--config', cfg, '--checkpoint',
            str(tmp_path / 'official.pth'), '--out-dir', str(tmp_path)]
    assert image_demo.main(argv) == 0
    assert "converted from the official 'eva01_cls' layout" in capsys.readouterr().out
    pred = json.loads((tmp_path / 'img_cls.json').read_text())
    assert pred['pred_label'] == 2 and pred['pred_score'] > 0.99


def _read_video(path: Path) -> list:
    cap, frames = cv2.VideoCapture(str(path)), []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames


def test_video_demo_builtin(tmp_path, capsys):
    writer = demo_utils.data_tool('make_moving_shapes.py')
    frames = []
    for t in range(12):
        f = np.full((48, 64, 3), 40, np.uint8)
        f[12:28, 4 + 3 * t:20 + 3 * t] = (0, 0, 220)
        frames.append(f)
    writer.write_mp4(str(tmp_path / 'clip.mp4'), frames)
    out = tmp_path / 'out' / 'clip_pred.mp4'
    assert video_demo.main([str(tmp_path / 'clip.mp4'), '--out', str(out)]) == 0
    assert 'RANDOM weights' in capsys.readouterr().out
    drawn, orig = _read_video(out), _read_video(tmp_path / 'clip.mp4')
    assert len(drawn) == len(orig) == 12
    assert drawn[0].shape == orig[0].shape
    assert np.abs(drawn[0].astype(int) - orig[0]).mean() > 1.0, 'nothing was drawn'
    pred = json.loads(out.with_suffix('.json').read_text())
    assert pred['classes'] == ['right', 'left', 'down', 'up']
    assert len(pred['pred_scores']) == 4 and abs(sum(pred['pred_scores']) - 1) < 1e-4
    assert [t['name'] for t in pred['topk']] == [
        pred['classes'][i] for i in np.argsort(-np.asarray(pred['pred_scores']))[:3]]


def test_demo_errors(tmp_path, capsys):
    """Missing inputs, an unknown task and a checkpoint of another model: rc 1 and a message
    that names the problem."""
    _image(tmp_path / 'img.png', size=(32, 32))
    assert image_demo.main([str(tmp_path / 'nope.png'), '--task', 'det']) == 1
    assert 'image not found' in capsys.readouterr().err
    assert image_demo.main([str(tmp_path / 'img.png'), '--task', 'pose']) == 1
    assert "unknown task 'pose'" in capsys.readouterr().err
    assert video_demo.main([str(tmp_path / 'nope.mp4')]) == 1
    assert 'video not found' in capsys.readouterr().err
    argv = [str(tmp_path / 'img.png'), '--task', 'seg', '--config',
            str(ROOT / 'configs' / 'det' / 'eva-tiny_cmrcnn_shapes.py')]
    assert image_demo.main(argv) == 1
    assert 'is a det config (mmdet), not a seg one' in capsys.readouterr().err
    torch.save({'state_dict': {'roi_head.x': torch.zeros(3)}}, tmp_path / 'other.pth')
    argv = [str(tmp_path / 'img.png'), '--task', 'cls', '--config',
            str(ROOT / 'configs' / 'cls' / 'eva-tiny_shapes.py'), '--checkpoint',
            str(tmp_path / 'other.pth'), '--out-dir', str(tmp_path / 'out')]
    assert image_demo.main(argv) == 1
    assert 'does not match the config' in capsys.readouterr().err
    assert not (tmp_path / 'out').exists()


def test_demos_read_released_layouts(tmp_path, capsys):
    """The paper configs (shrunk to the official tiny reference models' sizes) with the
    reference checkpoints in the released layouts (detectron2 detector, EVA-01 video model,
    made by the official code): converted on load, matched strictly, drawn."""
    import os
    from mmengine.config import Config
    from eva_mm.det.testing import official_tiny_cfg
    ref = Path(os.environ.get('EVA_MM_REFERENCE', ROOT.parent / 'shared' / 'reference'))
    if not ref.is_dir():
        raise FileNotFoundError(f'the official reference models are missing: {ref} (set '
                                'EVA_MM_REFERENCE to the folder holding eva01_det/, eva01_video/)')
    img = _image(tmp_path / 'img.png', size=(160, 120))
    cfg = official_tiny_cfg(Config.fromfile(str(ROOT / 'configs/det/eva_cmrcnn_coco_1536_mask.py')),
                            320)
    model = cfg.model.get('module', cfg.model)  # fewer proposals/detections: a CPU test's cost
    model.test_cfg.rpn.update(nms_pre=50, max_per_img=50)
    model.test_cfg.rcnn.max_per_img = 20
    cfg.dump(str(tmp_path / 'det.py'))
    assert image_demo.main([str(tmp_path / 'img.png'), '--task', 'det', '--config',
                            str(tmp_path / 'det.py'), '--checkpoint',
                            str(ref / 'eva01_det' / 'official_tiny_coco.pth'), '--score-thr', '0',
                            '--out-dir', str(tmp_path / 'out')]) == 0
    assert "converted from the official 'detectron2' layout" in capsys.readouterr().out
    _check_png(tmp_path / 'out' / 'img_det.png', img)
    pred = json.loads((tmp_path / 'out' / 'img_det.json').read_text())
    assert len(pred['classes']) == 80 and pred['classes'][0] == 'person'
    assert len(pred['labels']) == len(pred['masks']) > 0

    cfg = Config.fromfile(str(ROOT / 'configs/video/eva_k400.py'))
    cfg.model.backbone.update(arch=dict(embed_dims=192, num_layers=4, num_heads=3,
                                        feedforward_channels=837), img_size=112, with_cp=False,
                              init_cfg=None)
    cfg.model.cls_head.update(num_classes=10, in_channels=192, init_cfg=None)
    cfg.dump(str(tmp_path / 'video.py'))
    (tmp_path / 'labels.txt').write_text('\n'.join(f'action {i}' for i in range(10)))
    frames = [np.full((60, 80, 3), 20 * t, np.uint8) for t in range(10)]
    demo_utils.data_tool('make_moving_shapes.py').write_mp4(str(tmp_path / 'clip.mp4'), frames)
    assert video_demo.main([str(tmp_path / 'clip.mp4'), '--config', str(tmp_path / 'video.py'),
                            '--checkpoint', str(ref / 'eva01_video' / 'official_tiny_k400.pth'),
                            '--label-map', str(tmp_path / 'labels.txt'),
                            '--out', str(tmp_path / 'clip_pred.mp4')]) == 0
    assert "converted from the official 'eva01_video' layout" in capsys.readouterr().out
    assert len(_read_video(tmp_path / 'clip_pred.mp4')) == 10
    pred = json.loads((tmp_path / 'clip_pred.json').read_text())
    assert pred['classes'] == [f'action {i}' for i in range(10)]
    assert pred['topk'][0]['name'] == pred['classes'][int(np.argmax(pred['pred_scores']))]
