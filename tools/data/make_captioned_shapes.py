"""Generate ``captioned_shapes``: tiny (image, caption) pairs for EVA MIM / EVA-CLIP demos.

Each image shows one shape (circle, square, triangle) of one colour (red, green, blue,
yellow) at a random size and position on a noisy grey background; its caption names them in
one of several phrasings ("a red circle", "a photo of a small blue square", ...). The 12
colour-shape combinations are the classes of the zero-shot evaluation. Deterministic::

    data/captioned_shapes/{train,val}/<index>.png
    data/captioned_shapes/{train,val}.json   (eva_mm.CaptionedImageDataset format)

    python tools/data/make_captioned_shapes.py [--out data/captioned_shapes]
        [--train 2400] [--val 240] [--size 48] [--seed 0]
"""
import argparse
import json
import os
import os.path as osp

import numpy as np
from PIL import Image, ImageDraw

COLORS = {'red': (220, 40, 40), 'green': (40, 180, 60), 'blue': (40, 70, 220),
          'yellow': (230, 210, 40)}
SHAPES = ('circle', 'square', 'triangle')
CLASSES = tuple(f'{c} {s}' for c in COLORS for s in SHAPES)
CAPTIONS = ('a {size}{cls}', 'a photo of a {size}{cls}', 'a {size}{cls} on a grey background',
            'an image of a {size}{cls}', '{size}{cls}')


def draw(rng: np.random.Generator, color: str, shape: str, size: int) -> tuple:
    """(PIL image, relative radius) of one ``size`` x ``size`` sample."""
    bg = int(rng.integers(90, 170))
    img = np.clip(bg + rng.normal(0, 10, (size, size, 3)), 0, 255).astype(np.uint8)
    im = Image.fromarray(img)
    d = ImageDraw.Draw(im)
    jitter = rng.integers(-25, 26, 3)
    fill = tuple(int(np.clip(v + j, 0, 255)) for v, j in zip(COLORS[color], jitter))
    rel = float(rng.uniform(0.15, 0.38))
    r = rel * size
    cx, cy = rng.uniform(r + 1, size - r - 1, 2)
    if shape == 'circle':
        d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=fill)
    elif shape == 'square':
        d.rectangle([cx - r, cy - r, cx + r, cy + r], fill=fill)
    else:
        d.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=fill)
    return im, rel


def make_split(out: str, split: str, num: int, size: int, rng: np.random.Generator,
               verbose: bool = True) -> str:
    os.makedirs(osp.join(out, split), exist_ok=True)
    data_list = []
    for i in range(num):
        label = i % len(CLASSES)
        color, shape = CLASSES[label].split()
        im, rel = draw(rng, color, shape, size)
        name = f'{split}/{i:05d}.png'
        im.save(osp.join(out, name))
        size_word = 'small ' if rel < 0.22 else ('large ' if rel > 0.31 else '')
        template = CAPTIONS[int(rng.integers(len(CAPTIONS)))]
        caption = template.format(size=size_word, cls=CLASSES[label])
        data_list.append(dict(img_path=name, caption=caption, gt_label=label))
        if verbose and (i + 1) % 500 == 0:
            print(f'[make_captioned_shapes] {split}: {i + 1}/{num}', flush=True)
    ann = osp.join(out, f'{split}.json')
    with open(ann, 'w') as f:
        json.dump(dict(metainfo=dict(classes=list(CLASSES)), data_list=data_list), f)
    return ann


def make_captioned_shapes(out: str = 'data/captioned_shapes', num_train: int = 2400,
                          num_val: int = 240, size: int = 48, seed: int = 0,
                          verbose: bool = True) -> str:
    """Write both splits under ``out`` (train and val drawn from different seeds)."""
    if num_train <= 0 or num_val <= 0:
        raise ValueError(f'--train and --val must be positive, got {num_train}, {num_val}')
    if size < 16:
        raise ValueError(f'--size must be at least 16 pixels, got {size}')
    make_split(out, 'train', num_train, size, np.random.default_rng(seed), verbose)
    make_split(out, 'val', num_val, size, np.random.default_rng(seed + 1_000_003), verbose)
    if verbose:
        print(f'[make_captioned_shapes] wrote {num_train} train / {num_val} val images, '
              f'{len(CLASSES)} classes, to {out}', flush=True)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--out', default='data/captioned_shapes')
    p.add_argument('--train', type=int, default=2400)
    p.add_argument('--val', type=int, default=240)
    p.add_argument('--size', type=int, default=48)
    p.add_argument('--seed', type=int, default=0)
    a = p.parse_args()
    make_captioned_shapes(a.out, a.train, a.val, a.size, a.seed)


if __name__ == '__main__':
    main()
