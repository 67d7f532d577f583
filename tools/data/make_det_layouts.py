"""A few images in the official on-disk layouts of COCO 2017 and LVIS v1 (val), to run the
paper detection configs as written (only a data root / size override).

    python tools/data/make_det_layouts.py OUT [--images 2] [--size 320 240] [--seed 0]

Writes
  OUT/coco/val2017/000000xxxxxx.jpg, OUT/coco/annotations/instances_val2017.json
      the 80 COCO categories with their official ids (1..90 with gaps) and names;
  OUT/lvis_v1/val2017/000000xxxxxx.jpg (the same images), OUT/lvis_v1/annotations/lvis_v1_val.json
      the 1203 LVIS v1 categories (mmdet's names, ids 1..1203, ``frequency`` r/c/f and
      ``image_count``), ``coco_url`` as LVIS v1 (the image path under OUT/lvis_v1/ is read from it),
      ``neg_category_ids`` / ``not_exhaustive_category_ids`` per image.
Objects are the shapes of make_shapes_det.py with polygon masks, labelled with arbitrary classes.
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import List, Tuple

import numpy as np

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from make_shapes_det import SHAPES, COLOURS, draw_image  # noqa: E402

COCO_IDS = [i for i in range(1, 91) if i not in (12, 26, 29, 30, 45, 66, 68, 69, 71, 83)]


def _coco_names() -> Tuple[str, ...]:
    from mmdet.datasets import CocoDataset
    return CocoDataset.METAINFO['classes']


def _lvis_names() -> Tuple[str, ...]:
    from mmdet.datasets import LVISV1Dataset
    return LVISV1Dataset.METAINFO['classes']


def make_layouts(out: str, images: int = 2, size: Tuple[int, int] = (320, 240), seed: int = 0
                 ) -> dict:
    """Write both layouts under ``out``; returns {'coco': root, 'lvis': root}."""
    rng = np.random.default_rng(seed)
    w, h = size
    coco_imgs, coco_anns, lvis_imgs, lvis_anns = [], [], [], []
    for d in ('coco/val2017', 'coco/annotations', 'lvis_v1/val2017', 'lvis_v1/annotations'):
        os.makedirs(osp.join(out, d), exist_ok=True)
    n_coco, n_lvis = len(COCO_IDS), len(_lvis_names())
    for i in range(images):
        img_id = 139 + i
        name = f'{img_id:012d}.jpg'
        objs = [(SHAPES[int(rng.integers(len(SHAPES)))],
                 list(COLOURS.values())[int(rng.integers(len(COLOURS)))]) for _ in range(3)]
        img, shapes = draw_image(rng, max(w, h), objs)
        img = img.crop((0, 0, w, h))  # a non-square image: the test resize and pad matter
        img.save(osp.join(out, 'coco/val2017', name), quality=95)
        img.save(osp.join(out, 'lvis_v1/val2017', name), quality=95)
        coco_imgs.append(dict(id=img_id, file_name=name, width=w, height=h))
        lvis_imgs.append(dict(id=img_id, width=w, height=h, neg_category_ids=[1],
                              not_exhaustive_category_ids=[],
                              coco_url=f'http://images.cocodataset.org/val2017/{name}'))
        for s in shapes:
            x, y, bw, bh = s['bbox']
            if x + bw > w or y + bh > h:
                continue  # cropped away
            ann = dict(id=len(coco_anns) + 1, image_id=img_id, bbox=s['bbox'], area=s['area'],
                       segmentation=[s['poly']], iscrowd=0)
            coco_anns.append(dict(ann, category_id=COCO_IDS[int(rng.integers(n_coco))]))
            lvis_anns.append(dict(ann, category_id=int(rng.integers(2, n_lvis + 1))))
    coco_cats = [dict(id=i, name=n, supercategory='thing')
                 for i, n in zip(COCO_IDS, _coco_names())]
    freq = 'rcf'
    lvis_cats = [dict(id=i + 1, name=n, synset=f'{n}.n.01', frequency=freq[i % 3],
                      image_count=1 + i % 50, instance_count=1 + i % 50)
                 for i, n in enumerate(_lvis_names())]
    with open(osp.join(out, 'coco/annotations/instances_val2017.json'), 'w') as f:
        json.dump(dict(images=coco_imgs, annotations=coco_anns, categories=coco_cats), f)
    with open(osp.join(out, 'lvis_v1/annotations/lvis_v1_val.json'), 'w') as f:
        json.dump(dict(images=lvis_imgs, annotations=lvis_anns, categories=lvis_cats), f)
    return dict(coco=osp.join(out, 'coco') + '/', lvis=osp.join(out, 'lvis_v1') + '/')


def main(argv: List[str] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('out')
    p.add_argument('--images', type=int, default=2)
    p.add_argument('--size', type=int, nargs=2, default=(320, 240), metavar=('W', 'H'))
    p.add_argument('--seed', type=int, default=0)
    a = p.parse_args(argv)
    roots = make_layouts(a.out, a.images, tuple(a.size), a.seed)
    print(f'wrote {roots}')


if __name__ == '__main__':
    main()
