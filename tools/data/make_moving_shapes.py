"""Generate the synthetic *moving-shapes* video set (mp4, mmaction2 VideoDataset lists).

Every video shows one random shape (square / disc / triangle / cross, random size and colour)
on a random dark, slightly noisy background, translating with a random speed in one of four
directions. The class is the direction of motion: ``right, left, down, up``. The motion wraps
around the frame edges (toroidal), so the shape's position in *any* single frame is uniform
over the frame for every class: a single frame carries no information about the class, only
the change between frames does (chance = 25%).

Layout written under ``--out`` (default ``data/moving_shapes``)::

    classes.txt                 one class name per line (label = line index)
    train_list.txt, val_list.txt  mmaction2 VideoDataset lists: ``videos/<split>/<id>.mp4 <label>``
    videos/{train,val}/*.mp4    mp4 (MPEG-4 part 2, OpenCV), read back with decord

Deterministic: video ``i`` of a split draws from ``numpy.random.RandomState(seed, split, i)``.

Example::

    python tools/data/make_moving_shapes.py --num-train 600 --num-val 200
"""
import argparse
import os
import os.path as osp
import sys
import time
from typing import List, Tuple

import cv2
import numpy as np

CLASSES = ('right', 'left', 'down', 'up')
DIRECTIONS = {'right': (1, 0), 'left': (-1, 0), 'down': (0, 1), 'up': (0, -1)}  # (dx, dy)
SHAPES = ('square', 'disc', 'triangle', 'cross')
SPLIT_SEED = {'train': 0, 'val': 1}


def _draw_shape(img: np.ndarray, shape: str, cx: float, cy: float, r: int,
                color: Tuple[int, int, int]) -> None:
    """Draw ``shape`` of radius ``r`` centred at (cx, cy), wrapped around the frame edges."""
    S = img.shape[0]
    for ox in (-S, 0, S):
        for oy in (-S, 0, S):
            x, y = int(round(cx + ox)), int(round(cy + oy))
            if x + r < 0 or x - r >= S or y + r < 0 or y - r >= S:
                continue
            if shape == 'square':
                cv2.rectangle(img, (x - r, y - r), (x + r, y + r), color, -1)
            elif shape == 'disc':
                cv2.circle(img, (x, y), r, color, -1)
            elif shape == 'triangle':
                pts = np.array([[x, y - r], [x - r, y + r], [x + r, y + r]], np.int32)
                cv2.fillConvexPoly(img, pts, color)
            else:  # cross
                t = max(1, r // 3)
                cv2.rectangle(img, (x - r, y - t), (x + r, y + t), color, -1)
                cv2.rectangle(img, (x - t, y - r), (x + t, y + r), color, -1)


def make_video(rng: np.random.RandomState, label: int, num_frames: int,
               size: int) -> List[np.ndarray]:
    """Frames (num_frames x (size, size, 3) uint8 BGR) of one video of class ``label``."""
    dx, dy = DIRECTIONS[CLASSES[label]]
    speed = rng.uniform(2.0, 4.0)  # pixels per frame
    shape = SHAPES[rng.randint(len(SHAPES))]
    r = int(rng.randint(size // 8, size // 5 + 1))
    color = tuple(int(c) for c in rng.randint(150, 256, size=3))
    bg = rng.randint(0, 70, size=3)
    x0, y0 = rng.uniform(0, size, size=2)  # uniform start: every frame is position-uniform
    frames = []
    for t in range(num_frames):
        img = np.empty((size, size, 3), np.uint8)
        img[:] = bg
        noise = rng.randint(-8, 9, size=img.shape)
        img = np.clip(img.astype(np.int16) + noise, 0, 255).astype(np.uint8)
        _draw_shape(img, shape, (x0 + dx * speed * t) % size, (y0 + dy * speed * t) % size, r,
                    color)
        frames.append(img)
    return frames


def write_mp4(path: str, frames: List[np.ndarray], fps: int = 8) -> None:
    """Write BGR frames to ``path`` (mp4v); RuntimeError if OpenCV cannot encode mp4."""
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*'mp4v'), fps, (w, h))
    if not writer.isOpened():
        raise RuntimeError(f'OpenCV could not open an mp4v writer for {path} (no video codec '
                           f'support in this OpenCV build?)')
    for f in frames:
        writer.write(f)
    writer.release()
    if not osp.isfile(path) or osp.getsize(path) == 0:
        raise RuntimeError(f'OpenCV wrote no data to {path}')


def generate(out: str, num_train: int = 600, num_val: int = 200, num_frames: int = 16,
             size: int = 32, seed: int = 0, verbose: bool = True) -> None:
    """Write the whole set under ``out`` (see the module docstring)."""
    if size % 2 or size < 16:
        raise ValueError(f'size must be an even number >= 16, got {size}')
    if num_frames < 2:
        raise ValueError(f'num_frames must be >= 2 (motion needs two frames), got {num_frames}')
    os.makedirs(out, exist_ok=True)
    with open(osp.join(out, 'classes.txt'), 'w') as f:
        f.write('\n'.join(CLASSES) + '\n')
    for split, n in (('train', num_train), ('val', num_val)):
        vdir = osp.join(out, 'videos', split)
        os.makedirs(vdir, exist_ok=True)
        lines = []
        t0 = time.time()
        for i in range(n):
            label = i % len(CLASSES)  # balanced classes
            rng = np.random.RandomState([seed, SPLIT_SEED[split], i])
            rel = f'videos/{split}/{i:05d}.mp4'
            write_mp4(osp.join(out, rel), make_video(rng, label, num_frames, size))
            lines.append(f'{rel} {label}')
            if verbose and ((i + 1) % 100 == 0 or i + 1 == n):
                print(f'[moving_shapes] {split}: {i + 1}/{n} videos '
                      f'({time.time() - t0:.1f}s)', flush=True)
        with open(osp.join(out, f'{split}_list.txt'), 'w') as f:
            f.write('\n'.join(lines) + '\n')
    if verbose:
        print(f'[moving_shapes] done: {num_train} train + {num_val} val videos, '
              f'{num_frames} frames of {size}x{size}, classes {list(CLASSES)} -> {out}')


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--out', default='data/moving_shapes')
    p.add_argument('--num-train', type=int, default=600)
    p.add_argument('--num-val', type=int, default=200)
    p.add_argument('--num-frames', type=int, default=16)
    p.add_argument('--size', type=int, default=32)
    p.add_argument('--seed', type=int, default=0)
    return p.parse_args(argv)


def main(argv=None) -> None:
    a = parse_args(argv)
    generate(a.out, a.num_train, a.num_val, a.num_frames, a.size, a.seed)


if __name__ == '__main__':
    sys.exit(main())
