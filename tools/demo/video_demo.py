"""Draw an EVA video model's prediction on your own video with mmaction2's
ActionRecogInferencer and ActionVisualizer.

    python tools/demo/video_demo.py VIDEO [--config CFG] [--checkpoint CKPT] [--out FILE.mp4]
        [--label-map FILE] [--topk 3] [--device cpu]

CKPT may be an eva_mm checkpoint or a released official one (e.g. eva_video_k400.pth,
converted on load). Without --config/--checkpoint the tiny built-in moving-shapes model runs:
the weights trained by tools/demo_video.sh if present, else random weights. Writes FILE (the
frames with the predicted label drawn) and FILE with .json (top-k labels and scores).
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import List, Optional

import cv2
import numpy as np

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from demo_utils import (DemoError, builtin_classes, check_files, data_tool,  # noqa: E402
                        dataset_metainfo, load_weights, quiet_random_init_warnings,
                        resolve_model)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('video', help='video file (mp4, avi, ... anything decord reads)')
    p.add_argument('--config', help='eva_mm video config (default: the tiny built-in model)')
    p.add_argument('--checkpoint', help='eva_mm or official checkpoint of --config')
    p.add_argument('--out', help='output video (.mp4; default demo_out/<stem>_video.mp4)')
    p.add_argument('--label-map', help='text file, one class name per line (label order)')
    p.add_argument('--topk', type=int, default=3, help='labels kept in the JSON')
    p.add_argument('--fps', type=int, default=8, help='frame rate of the output video')
    p.add_argument('--device', default='cpu')
    return p.parse_args(argv)


def _class_names(args, cfg, num_classes: int) -> List[str]:
    """--label-map, else the config's dataset metainfo, else the built-in set's names."""
    if args.label_map:
        check_files([args.label_map], 'label map')
        with open(args.label_map) as f:
            names = [line.strip() for line in f if line.strip()]
    else:
        from mmaction.registry import DATASETS
        names = dataset_metainfo(cfg, DATASETS).get('classes')
        if names is None and args.config is None:
            names = builtin_classes('video')
        if names is None:
            return [f'class {i}' for i in range(num_classes)]
    if len(names) != num_classes:
        raise DemoError(f'{len(names)} class names for a model with {num_classes} classes '
                        f'({args.label_map or "config metainfo"})')
    return list(names)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    try:
        check_files([args.video], 'video')
        cap = cv2.VideoCapture(args.video)
        ok = cap.isOpened() and cap.read()[0]
        cap.release()
        if not ok:
            raise DemoError(f'cannot read video {args.video}')
        cfg, ckpt, note = resolve_model('video', args.config, args.checkpoint)
        print(f'model: {note}')
        cfg.visualizer = dict(cfg.get('visualizer', dict(type='ActionVisualizer')),
                              vis_backends=[])  # the demo writes its files itself
        from mmaction.apis import ActionRecogInferencer
        with quiet_random_init_warnings():
            inf = ActionRecogInferencer(model=cfg, weights=None, device=args.device)
        if ckpt:
            print(f'weights: {load_weights(inf.model, ckpt)}')
        classes = _class_names(args, cfg, cfg.model.cls_head.num_classes)
        inf.visualizer.dataset_meta = dict(classes=classes)
        res = inf(args.video, return_vis=True, out_type='img', vid_out_dir='')
    except DemoError as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    scores = np.asarray(res['predictions'][0]['pred_scores'], dtype=float)
    top = np.argsort(-scores)[:args.topk]
    result = dict(video=args.video, model=note, classes=classes,
                  topk=[dict(label=int(i), name=classes[i], score=float(scores[i])) for i in top],
                  pred_scores=scores.tolist())
    out = args.out or osp.join('demo_out', f'{osp.splitext(osp.basename(args.video))[0]}_video.mp4')
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    frames = [np.ascontiguousarray(f[..., ::-1]) for f in res['visualization'][0]]  # RGB->BGR
    try:
        data_tool('make_moving_shapes.py').write_mp4(out, frames, fps=args.fps)
    except RuntimeError as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    with open(osp.splitext(out)[0] + '.json', 'w') as f:
        json.dump(result, f)
    print('top-{}: {}'.format(args.topk, ', '.join(f'{t["name"]} {t["score"]:.3f}'
                                                    for t in result['topk'])))
    print(f'wrote {out} and {osp.splitext(out)[0]}.json')
    return 0


if __name__ == '__main__':
    sys.exit(main())
