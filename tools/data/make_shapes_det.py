"""Synthetic "shapes" detection / instance-segmentation data in COCO and LVIS v1 format.

    python tools/data/make_shapes_det.py [--out data/shapes_det] [--seed 0] [--size 128]
        [--train 400] [--val 60] [--lvis-train 300] [--lvis-val 40]

Writes (deterministic for a given seed):
  OUT/{train,val}/*.png, OUT/annotations/instances_{train,val}.json
      COCO: 3 classes (circle, square, triangle), random colours, 1-4 non-overlapping objects,
      polygon instance masks.
  OUT/{lvis_train,lvis_val}/*.png, OUT/annotations/lvis_{train,val}.json
      LVIS v1: 24 classes = 4 shapes x 6 colours, drawn with long-tailed probabilities so
      the categories fall in LVIS's frequency groups by their train image counts
      (r: 1-10, c: 11-100, f: > 100; ``frequency`` / ``image_count`` / ``instance_count`` per
      category), ``neg_category_ids`` (verified absent) and ``not_exhaustive_category_ids``
      (one instance of that category is left unlabelled) per image, ``coco_url`` as LVIS v1.
"""
import argparse
import json
import math
import os
import os.path as osp
from typing import Dict, List, Tuple

import numpy as np
from PIL import Image, ImageDraw

SHAPES = ('circle', 'square', 'triangle', 'diamond')
COLOURS = {'red': (220, 40, 40), 'green': (40, 200, 60), 'blue': (50, 80, 230),
           'yellow': (230, 210, 40), 'magenta': (210, 50, 210), 'cyan': (40, 210, 210)}


def shape_polygon(kind: str, cx: float, cy: float, r: float, angle: float) -> List[float]:
    """Vertices [x0, y0, x1, y1, ...] of a shape centred at (cx, cy) with radius r."""
    if kind == 'circle':
        n, a0 = 32, 0.
    elif kind == 'square':
        n, a0 = 4, angle + math.pi / 4
    elif kind == 'triangle':
        n, a0 = 3, angle - math.pi / 2
    elif kind == 'diamond':
        n, a0, r = 4, 0., r * 1.1
    else:
        raise ValueError(kind)
    pts = []
    for k in range(n):
        a = a0 + 2 * math.pi * k / n
        sx = 0.7 if kind == 'diamond' else 1.
        pts += [cx + sx * r * math.cos(a), cy + r * math.sin(a)]
    return pts


def draw_image(rng: np.random.Generator, size: int, objects: List[Tuple[str, Tuple[int, int, int]]]
               ) -> Tuple[Image.Image, List[dict]]:
    """Background + non-overlapping shapes; returns the image and [{poly, bbox, area}]."""
    base = rng.integers(20, 90, size=3)
    noise = rng.normal(0, 8, size=(size, size, 3))
    img = Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    placed, out = [], []
    for kind, colour in objects:
        for _ in range(50):
            r = rng.uniform(size * 0.09, size * 0.22)
            cx, cy = rng.uniform(r, size - r, size=2)
            if all(math.hypot(cx - px, cy - py) > r + pr + 2 for px, py, pr in placed):
                break
        else:
            continue  # no room left
        placed.append((cx, cy, r))
        poly = shape_polygon(kind, cx, cy, r, rng.uniform(0, math.pi / 2))
        jitter = rng.integers(-25, 26, size=3)
        draw.polygon(poly, fill=tuple(int(np.clip(c + j, 0, 255)) for c, j in zip(colour, jitter)))
        xs, ys = poly[0::2], poly[1::2]
        x0, y0 = max(min(xs), 0), max(min(ys), 0)
        x1, y1 = min(max(xs), size), min(max(ys), size)
        area = 0.5 * abs(sum(xs[i] * ys[i - 1] - xs[i - 1] * ys[i] for i in range(len(xs))))
        out.append(dict(poly=[round(v, 2) for v in poly],
                        bbox=[round(x0, 2), round(y0, 2), round(x1 - x0, 2), round(y1 - y0, 2)],
                        area=round(area, 2)))
    return img, out


def make_coco(out: str, split: str, n: int, size: int, rng: np.random.Generator) -> str:
    os.makedirs(osp.join(out, split), exist_ok=True)
    cats = [dict(id=i + 1, name=s, supercategory='shape') for i, s in enumerate(SHAPES[:3])]
    images, anns = [], []
    for i in range(n):
        k = int(rng.integers(1, 5))
        objs = [(SHAPES[int(rng.integers(0, 3))], tuple(COLOURS.values())[int(rng.integers(0, 6))])
                for _ in range(k)]
        img, drawn = draw_image(rng, size, objs)
        fname = f'{split}/{i:05d}.png'
        img.save(osp.join(out, fname))
        images.append(dict(id=i + 1, file_name=fname, width=size, height=size))
        for (kind, _), d in zip(objs, drawn):
            anns.append(dict(id=len(anns) + 1, image_id=i + 1, category_id=SHAPES.index(kind) + 1,
                             bbox=d['bbox'], area=d['area'], segmentation=[d['poly']],
                             iscrowd=0))
    path = osp.join(out, 'annotations', f'instances_{split}.json')
    with open(path, 'w') as f:
        json.dump(dict(images=images, annotations=anns, categories=cats), f)
    return path


def lvis_categories() -> List[Tuple[str, str]]:
    return [(s, c) for s in SHAPES for c in COLOURS]


def make_lvis(out: str, split: str, n: int, size: int, rng: np.random.Generator,
              train_counts: Dict[int, int] = None) -> Tuple[str, Dict[int, int]]:
    """LVIS split; category probabilities are long-tailed (4 frequent, 10 common, 10 rare)."""
    os.makedirs(osp.join(out, f'lvis_{split}'), exist_ok=True)
    cats = lvis_categories()
    weights = np.array([40.] * 4 + [6.] * 10 + [0.6] * 10)
    order = rng.permutation(len(cats))  # which (shape, colour) is frequent is random
    prob = np.empty(len(cats))
    prob[order] = weights / weights.sum()
    # every rare category appears at least once in train: seed the first images with them
    forced = list(order[14:]) if split == 'train' else []
    images, anns = [], []
    cat_imgs: Dict[int, set] = {i + 1: set() for i in range(len(cats))}
    cat_inst = {i + 1: 0 for i in range(len(cats))}
    for i in range(n):
        k = int(rng.integers(1, 5))
        idx = [int(rng.choice(len(cats), p=prob)) for _ in range(k)]
        if forced:
            idx[0] = int(forced.pop())
        objs = [(cats[j][0], COLOURS[cats[j][1]]) for j in idx]
        img, drawn = draw_image(rng, size, objs)
        fname = f'lvis_{split}/{i:05d}.png'
        img.save(osp.join(out, fname))
        img_id = i + 1
        present = sorted({idx[m] + 1 for m in range(len(drawn))})
        absent = [c for c in range(1, len(cats) + 1) if c not in present]
        neg = sorted(int(c) for c in rng.choice(absent, size=min(6, len(absent)), replace=False))
        not_exh = []
        labelled = list(range(len(drawn)))
        # every 7th image with 2+ objects: one instance stays unlabelled (not exhaustive)
        if i % 7 == 3 and len(drawn) >= 2:
            m = len(drawn) - 1
            not_exh = [idx[m] + 1]
            labelled = [j for j in labelled if j != m]
        for m in labelled:
            cid = idx[m] + 1
            d = drawn[m]
            anns.append(dict(id=len(anns) + 1, image_id=img_id, category_id=cid, bbox=d['bbox'],
                             area=d['area'], segmentation=[d['poly']]))
            cat_imgs[cid].add(img_id)
            cat_inst[cid] += 1
        images.append(dict(id=img_id, file_name=fname, width=size, height=size,
                           coco_url=f'http://images.cocodataset.org/{fname}',
                           neg_category_ids=neg, not_exhaustive_category_ids=not_exh))
    counts = train_counts or {c: len(v) for c, v in cat_imgs.items()}

    def freq(c: int) -> str:
        return 'r' if counts[c] <= 10 else 'c' if counts[c] <= 100 else 'f'

    categories = [dict(id=i + 1, name=f'{c}_{s}', synset=f'{c}_{s}.n.01', synonyms=[f'{c}_{s}'],
                       def_=f'a {c} {s}', frequency=freq(i + 1), image_count=counts[i + 1],
                       instance_count=cat_inst[i + 1])
                  for i, (s, c) in enumerate(cats)]
    for c in categories:
        c['def'] = c.pop('def_')
    path = osp.join(out, 'annotations', f'lvis_{split}.json')
    with open(path, 'w') as f:
        json.dump(dict(info=dict(description='eva_mm synthetic shapes (LVIS v1 format)'),
                       licenses=[], images=images, annotations=anns, categories=categories), f)
    return path, counts


def make_shapes(out: str = 'data/shapes_det', seed: int = 0, size: int = 128, train: int = 400,
                val: int = 60, lvis_train: int = 300, lvis_val: int = 40,
                verbose: bool = True) -> Dict[str, str]:
    """Generate everything; returns the annotation file paths by split name."""
    os.makedirs(osp.join(out, 'annotations'), exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = {}
    for split, n in (('train', train), ('val', val)):
        paths[split] = make_coco(out, split, n, size, rng)
        if verbose:
            print(f'[make_shapes_det] COCO {split}: {n} images -> {paths[split]}', flush=True)
    rng_l = np.random.default_rng(seed + 1)
    paths['lvis_train'], counts = make_lvis(out, 'train', lvis_train, size, rng_l)
    paths['lvis_val'], _ = make_lvis(out, 'val', lvis_val, size, rng_l, train_counts=counts)
    if verbose:
        groups = {g: sum(1 for c in counts.values()
                         if (c <= 10 and g == 'r') or (10 < c <= 100 and g == 'c')
                         or (c > 100 and g == 'f')) for g in 'rcf'}
        print(f'[make_shapes_det] LVIS train/val: {lvis_train}/{lvis_val} images, '
              f'{len(counts)} categories, frequency groups {groups}', flush=True)
    return paths


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--out', default='data/shapes_det')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--size', type=int, default=128)
    p.add_argument('--train', type=int, default=400)
    p.add_argument('--val', type=int, default=60)
    p.add_argument('--lvis-train', type=int, default=300)
    p.add_argument('--lvis-val', type=int, default=40)
    a = p.parse_args()
    make_shapes(a.out, a.seed, a.size, a.train, a.val, a.lvis_train, a.lvis_val)


if __name__ == '__main__':
    main()
