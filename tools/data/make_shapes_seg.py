"""Write the built-in synthetic segmentation set in the ADE20K layout (deterministic).

    python tools/data/make_shapes_seg.py [--out data/shapes_seg] [--num-train 300]
        [--num-val 60] [--size 64] [--seed 0]

Layout (as ADE20K, read with ``reduce_zero_label=True``)::

    OUT/images/{training,validation}/shapes_XXXXXX.jpg
    OUT/annotations/{training,validation}/shapes_XXXXXX.png   (uint8; 0 = unlabelled,
                                                              1 background, 2 circle,
                                                              3 square, 4 triangle, 5 cross)

Each image is a textured background (stripes, checkerboard, noise or a gradient in
low-saturation colours) with 1-3 shapes of random size, position and class. A shape's
colour is drawn around its class's hue with jitter and its surface carries noise, so colour
is a strong (not exclusive) cue; later shapes may overlap earlier ones. A 1-px band around
each shape's edge is labelled 0 (unlabelled -> ignored), as ADE20K's unlabelled pixels.
"""
import argparse
import os
import os.path as osp
import time

import numpy as np
from PIL import Image

CLASSES = ('background', 'circle', 'square', 'triangle', 'cross')
# class hue (degrees) of each shape class; the background is grey-ish
_HUES = {1: 350., 2: 210., 3: 120., 4: 45.}


def _hsv_to_rgb(h: float, s: float, v: float) -> np.ndarray:
    """One HSV colour (h in degrees, s and v in [0, 1]) -> RGB float array in [0, 255]."""
    h = (h % 360.) / 60.
    c = v * s
    x = c * (1 - abs(h % 2 - 1))
    rgb = [(c, x, 0), (x, c, 0), (0, c, x), (0, x, c), (x, 0, c), (c, 0, x)][int(h) % 6]
    return (np.array(rgb) + (v - c)) * 255.


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    base = _hsv_to_rgb(rng.uniform(0, 360), rng.uniform(0., 0.25), rng.uniform(0.35, 0.75))
    alt = _hsv_to_rgb(rng.uniform(0, 360), rng.uniform(0., 0.25), rng.uniform(0.35, 0.75))
    kind = rng.integers(4)
    if kind == 0:  # stripes
        theta, period = rng.uniform(0, np.pi), rng.uniform(4, 12)
        m = (np.sin((xx * np.cos(theta) + yy * np.sin(theta)) * 2 * np.pi / period) > 0)
    elif kind == 1:  # checkerboard
        cell = rng.integers(4, 12)
        m = ((xx // cell + yy // cell) % 2 == 0)
    elif kind == 2:  # blotchy noise
        coarse = rng.random((size // 8 + 1, size // 8 + 1))
        m = np.kron(coarse, np.ones((8, 8)))[:size, :size] > 0.5
    else:  # gradient
        t = (xx * rng.uniform(-1, 1) + yy * rng.uniform(-1, 1)) / size
        m = (t - t.min()) / max(t.max() - t.min(), 1e-6)
        return base * (1 - m[..., None]) + alt * m[..., None]
    return np.where(m[..., None], base, alt)


def _shape_mask(rng: np.random.Generator, cls: int, size: int) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    r = rng.uniform(0.12, 0.24) * size
    cy, cx = rng.uniform(r, size - r, 2)
    if cls == 1:  # circle
        return (yy - cy)**2 + (xx - cx)**2 <= r**2
    if cls == 2:  # square, random rotation
        a = rng.uniform(0, np.pi / 2)
        u = (xx - cx) * np.cos(a) + (yy - cy) * np.sin(a)
        v = -(xx - cx) * np.sin(a) + (yy - cy) * np.cos(a)
        return (np.abs(u) <= r * 0.85) & (np.abs(v) <= r * 0.85)
    if cls == 3:  # triangle (upright, equilateral-ish)
        top, bottom = cy - r, cy + r * 0.8
        half = (yy - top) / (bottom - top) * r
        return (yy >= top) & (yy <= bottom) & (np.abs(xx - cx) <= half)
    # cross (plus sign)
    w = r * 0.35
    return (((np.abs(xx - cx) <= w) & (np.abs(yy - cy) <= r))
            | ((np.abs(yy - cy) <= w) & (np.abs(xx - cx) <= r)))


def make_sample(rng: np.random.Generator, size: int):
    """One (image uint8 (S, S, 3), label uint8 (S, S)) pair; labels are file ids (1 = bg)."""
    img = _background(rng, size)
    img += rng.normal(0, 8, img.shape)
    label = np.ones((size, size), np.uint8)
    for _ in range(rng.integers(1, 4)):
        cls = int(rng.integers(1, 5))
        m = _shape_mask(rng, cls, size)
        colour = _hsv_to_rgb(_HUES[cls] + rng.uniform(-20, 20), rng.uniform(0.55, 1.0),
                             rng.uniform(0.6, 1.0))
        tex = colour + rng.normal(0, 12, img.shape)
        img = np.where(m[..., None], tex, img)
        label[m] = cls + 1
    # unlabelled 1-px band on every class boundary (ADE20K-like 0 = "other")
    edge = np.zeros_like(label, bool)
    edge[:, 1:] |= label[:, 1:] != label[:, :-1]
    edge[1:, :] |= label[1:, :] != label[:-1, :]
    label[edge] = 0
    return np.clip(img, 0, 255).astype(np.uint8), label


def write_split(out: str, split: str, n: int, size: int, seed: int) -> None:
    img_dir = osp.join(out, 'images', split)
    ann_dir = osp.join(out, 'annotations', split)
    os.makedirs(img_dir, exist_ok=True)
    os.makedirs(ann_dir, exist_ok=True)
    rng = np.random.default_rng(seed)
    t0 = time.time()
    for i in range(n):
        img, label = make_sample(rng, size)
        name = f'shapes_{i:06d}'
        Image.fromarray(img).save(osp.join(img_dir, name + '.jpg'), quality=95)
        Image.fromarray(label).save(osp.join(ann_dir, name + '.png'))
        if (i + 1) % 100 == 0 or i + 1 == n:
            print(f'[make_shapes_seg] {split}: {i + 1}/{n} ({time.time() - t0:.1f}s)', flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--out', default='data/shapes_seg')
    p.add_argument('--num-train', type=int, default=300)
    p.add_argument('--num-val', type=int, default=60)
    p.add_argument('--size', type=int, default=64, help='image side in pixels')
    p.add_argument('--seed', type=int, default=0)
    args = p.parse_args()
    if args.size < 32:
        raise SystemExit(f'--size must be >= 32, got {args.size}')
    if args.num_train <= 0 or args.num_val <= 0:
        raise SystemExit('--num-train and --num-val must be positive')
    # different seeds per split: validation images are never training images
    write_split(args.out, 'training', args.num_train, args.size, args.seed)
    write_split(args.out, 'validation', args.num_val, args.size, args.seed + 1_000_003)
    print(f'[make_shapes_seg] wrote {args.num_train} training and {args.num_val} validation '
          f'images ({len(CLASSES)} classes: {", ".join(CLASSES)}) under {args.out}')


if __name__ == '__main__':
    main()
