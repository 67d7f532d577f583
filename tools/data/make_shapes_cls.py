"""Generate the tiny image-classification set ``shapes_cls`` (deterministic).

Writes an ImageNet-style image folder readable by mmpretrain's ``CustomDataset``::

    data/shapes_cls/{train,val}/<class>/<index>.png

Classes are drawn shapes (``circle``, ``square``, ``triangle``, ``cross``) of random bright
colour, size and a jittered, roughly central position on a noisy random dark background, so a
classifier must look at the shape (not the colour) to be right. The same seed always gives the same files.

    python tools/data/make_shapes_cls.py [--out data/shapes_cls] [--train 120] [--val 40]
        [--size 32] [--seed 0]
"""
import argparse
import os
import os.path as osp
from typing import Tuple

import numpy as np
from PIL import Image, ImageDraw

CLASSES = ('circle', 'square', 'triangle', 'cross')


def draw_shape(rng: np.random.Generator, cls: str, size: int) -> Image.Image:
    """One ``size`` x ``size`` RGB image of shape ``cls``."""
    bg = rng.integers(0, 100, 3)  # dark random-colour background ...
    noise = rng.normal(0, 12, (size, size, 3))
    img = np.clip(bg[None, None] + noise, 0, 255).astype(np.uint8)
    im = Image.fromarray(img)
    draw = ImageDraw.Draw(im)
    fg = rng.integers(150, 256, 3)  # ... bright random-colour shape
    color: Tuple[int, int, int] = tuple(int(c) for c in fg)
    r = rng.uniform(0.3, 0.42) * size
    cx, cy = size / 2 + rng.uniform(-0.08, 0.08, 2) * size  # roughly centred
    box = [cx - r, cy - r, cx + r, cy + r]
    if cls == 'circle':
        draw.ellipse(box, fill=color)
    elif cls == 'square':
        draw.rectangle(box, fill=color)
    elif cls == 'triangle':
        draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=color)
    elif cls == 'cross':
        w = max(1.5, r / 3)
        draw.rectangle([cx - r, cy - w, cx + r, cy + w], fill=color)
        draw.rectangle([cx - w, cy - r, cx + w, cy + r], fill=color)
    else:
        raise ValueError(f'unknown shape class {cls!r}; known: {CLASSES}')
    return im


def make_shapes_cls(out: str, num_train: int = 120, num_val: int = 40, size: int = 32,
                    seed: int = 0, verbose: bool = True) -> str:
    """Write the data set under ``out`` and return ``out``. ``num_*`` are per class."""
    if num_train <= 0 or num_val <= 0:
        raise ValueError(f'--train and --val must be positive, got {num_train}, {num_val}')
    if size < 16:
        raise ValueError(f'--size must be at least 16 pixels, got {size}')
    for split, n, split_seed in (('train', num_train, seed), ('val', num_val, seed + 1)):
        rng = np.random.default_rng(split_seed)
        for cls in CLASSES:
            d = osp.join(out, split, cls)
            os.makedirs(d, exist_ok=True)
            for i in range(n):
                draw_shape(rng, cls, size).save(osp.join(d, f'{i:05d}.png'))
        if verbose:
            print(f'wrote {n * len(CLASSES)} {split} images ({n} per class) to '
                  f'{osp.join(out, split)}', flush=True)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--out', default='data/shapes_cls')
    p.add_argument('--train', type=int, default=120, help='training images per class')
    p.add_argument('--val', type=int, default=40, help='validation images per class')
    p.add_argument('--size', type=int, default=32, help='image side in pixels')
    p.add_argument('--seed', type=int, default=0)
    a = p.parse_args()
    make_shapes_cls(a.out, a.train, a.val, a.size, a.seed)


if __name__ == '__main__':
    main()
