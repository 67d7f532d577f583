"""Draw an EVA model's predictions on your own images (detection, segmentation,
classification) with the mm* inferencers and visualizers.

    python tools/demo/image_demo.py IMAGE [IMAGE ...] --task det|seg|cls [--config CFG]
        [--checkpoint CKPT] [--out-dir DIR] [--score-thr 0.3] [--device cpu]

CKPT may be an eva_mm checkpoint or a released official one (converted on load, as
tools/model_converters/eva_to_eva_mm.py does). Without --config/--checkpoint a tiny built-in
model runs: the weights trained by tools/demo_<task>.sh if present, else random weights.
Writes <out-dir>/<image stem>_<task>.png (drawn) and .json (raw predictions).
"""
import argparse
import json
import os
import os.path as osp
import sys
import tempfile
from typing import List, Optional, Tuple

import numpy as np
from mmengine.config import Config
from PIL import Image

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from demo_utils import (DemoError, builtin_classes, check_files, dataset_metainfo,  # noqa: E402
                        drop_annotation_loading, load_weights, quiet_random_init_warnings,
                        resolve_model)

TASKS = ('det', 'seg', 'cls')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('images', nargs='+', help='image file(s)')
    p.add_argument('--task', required=True, help=f'one of {", ".join(TASKS)}')
    p.add_argument('--config', help='eva_mm config (default: the tiny built-in model)')
    p.add_argument('--checkpoint', help='eva_mm or official checkpoint of --config')
    p.add_argument('--out-dir', default='demo_out', help='output folder (default demo_out)')
    p.add_argument('--score-thr', type=float, default=0.3, help='det: draw boxes above this')
    p.add_argument('--device', default='cpu')
    return p.parse_args(argv)


def _run_det(cfg: Config, ckpt: Optional[str], images: List[str], args) -> Tuple[list, list]:
    from mmdet.apis import DetInferencer
    from mmdet.registry import DATASETS
    with quiet_random_init_warnings():
        inf = DetInferencer(model=cfg, weights=None, device=args.device, palette='random',
                            show_progress=False)
    meta = dataset_metainfo(cfg, DATASETS)
    if ckpt:
        print(f'weights: {load_weights(inf.model, ckpt)}')
    inf.model.dataset_meta = dict(classes=meta['classes'],
                                  palette=meta.get('palette', 'random'))
    inf.visualizer.dataset_meta = inf.model.dataset_meta
    res = inf(images, return_vis=True, no_save_vis=True, no_save_pred=True,
              pred_score_thr=args.score_thr)
    preds = [dict(p, classes=meta['classes'], score_thr=args.score_thr)
             for p in res['predictions']]
    return preds, res['visualization']


def _run_seg(cfg: Config, ckpt: Optional[str], images: List[str], args) -> Tuple[list, list]:
    from mmseg.apis import MMSegInferencer
    from mmseg.registry import DATASETS
    meta = dataset_metainfo(cfg, DATASETS)
    with quiet_random_init_warnings():
        inf = MMSegInferencer(model=cfg, weights=None, classes=meta['classes'],
                              palette=meta.get('palette'), device=args.device)
    inf.model.dataset_meta = dict(inf.visualizer.dataset_meta)
    if ckpt:
        print(f'weights: {load_weights(inf.model, ckpt)}')
    res = inf(images, return_vis=True)
    maps, vis = res['predictions'], res['visualization']
    if len(images) == 1:
        maps, vis = [maps], [vis]
    classes = list(meta['classes'])
    preds = [dict(classes=classes, shape=list(m.shape),
                  class_pixels=np.bincount(m.ravel(), minlength=len(classes)).tolist())
             for m in maps]
    return preds, vis


def _run_cls(cfg: Config, ckpt: Optional[str], images: List[str], args) -> Tuple[list, list]:
    from mmpretrain.apis import ImageClassificationInferencer
    from mmengine.registry import init_default_scope
    from mmpretrain.registry import DATASETS
    init_default_scope('mmpretrain')  # the inferencer builds its pipeline in the current scope
    meta = dataset_metainfo(cfg, DATASETS)
    classes = meta.get('classes')
    if classes is None and args.config is None:
        classes = builtin_classes('cls')
    elif classes is None:
        classes = [f'class {i}' for i in range(cfg.model.head.num_classes)]
    with quiet_random_init_warnings():
        inf = ImageClassificationInferencer(model=cfg, pretrained=False, device=args.device,
                                            classes=classes)
    if ckpt:
        print(f'weights: {load_weights(inf.model, ckpt)}')
    samples = inf(images, return_datasamples=True)
    with tempfile.TemporaryDirectory() as tmp:
        vis = inf.visualize(images, samples, show_dir=tmp)
    preds = inf.postprocess(samples, vis)
    for p in preds:
        p['pred_scores'] = p['pred_scores'].tolist()
        p['classes'] = list(classes)
    return preds, vis


def _prepare(cfg: Config, task: str) -> None:
    """Adapt the test pipeline to a user's image: no annotations; a classifier whose pipeline
    has no resize/crop (the tiny one, trained on 32x32 images) gets a resize to its input."""
    drop_annotation_loading(cfg)
    pipe = cfg.test_dataloader.dataset.pipeline
    if task == 'cls' and not any('Resize' in str(t['type']) or 'Crop' in str(t['type'])
                                 for t in pipe):
        size = cfg.model.backbone.img_size
        pipe.insert(1, dict(type='Resize', scale=(size, size)))


def _jsonable(obj):
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    try:
        if args.task not in TASKS:
            raise DemoError(f'unknown task {args.task!r}: choose one of {", ".join(TASKS)}')
        check_files(args.images, 'image')
        for path in args.images:
            try:
                with Image.open(path) as im:
                    im.verify()
            except Exception as e:  # noqa: BLE001 - any unreadable image
                raise DemoError(f'cannot read image {path}: {e}') from e
        cfg, ckpt, note = resolve_model(args.task, args.config, args.checkpoint)
        print(f'model: {note}')
        _prepare(cfg, args.task)
        run = dict(det=_run_det, seg=_run_seg, cls=_run_cls)[args.task]
        preds, vis = run(cfg, ckpt, list(args.images), args)
    except DemoError as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    os.makedirs(args.out_dir, exist_ok=True)
    for path, pred, img in zip(args.images, preds, vis):
        stem = osp.join(args.out_dir, f'{osp.splitext(osp.basename(path))[0]}_{args.task}')
        Image.fromarray(np.ascontiguousarray(img)).save(stem + '.png')
        with open(stem + '.json', 'w') as f:
            json.dump(_jsonable(dict(pred, image=path, model=note)), f)
        print(f'wrote {stem}.png and {stem}.json')
    return 0


if __name__ == '__main__':
    sys.exit(main())
