"""A few images in the official on-disk layout of COCO-Stuff 164k, to run the paper COCO-Stuff
segmentation configs as written (only a data root / size override).

    python tools/data/make_seg_layouts.py OUT [--train 2] [--val 1] [--size 96 128] [--seed 0]

Writes OUT/coco_stuff164k/ as the release (images from COCO 2017, label maps from
``stuffthingmaps_trainval2017.zip``) after mmseg's ``tools/dataset_converters/coco_stuff164k.py``:
  images/{train2017,val2017}/000000xxxxxx.jpg
  annotations/{train2017,val2017}/000000xxxxxx.png               the release's maps: COCO ids - 1
      (things 0..89 with COCO's gaps, stuff 91..181), 255 unlabelled;
  annotations/{train2017,val2017}/000000xxxxxx_labelTrainIds.png what mmseg's COCOStuffDataset
      reads: the 171 used ids renumbered 0..170 in order, 255 unlabelled.
Each map is a few random rectangles of random classes on a random stuff class, with an
unlabelled band, and the image a blocky random texture (what the label says is not visible:
these files exercise the data path, not learning).
"""
import argparse
import os
import os.path as osp
from typing import List, Tuple

import numpy as np
from PIL import Image

# COCO's 80 thing ids (1..90 with gaps) - 1, then the 91 stuff ids (92..182) - 1: the 171 ids
# of the release's maps in the order of their train ids (mmseg's converter)
COCO_THING_IDS = [i for i in range(1, 91) if i not in (12, 26, 29, 30, 45, 66, 68, 69, 71, 83)]
STUFF_MAP_IDS = [i - 1 for i in COCO_THING_IDS] + list(range(91, 182))
NUM_CLASSES = len(STUFF_MAP_IDS)  # 171


def _sample(rng: np.random.RandomState, hw: Tuple[int, int]) -> Tuple[np.ndarray, np.ndarray]:
    """(image HxWx3 uint8, train-id map HxW uint8 with 255 unlabelled)."""
    h, w = hw
    img = rng.randint(0, 256, (max(h // 8, 1), max(w // 8, 1), 3), dtype=np.uint8)
    img = np.kron(img, np.ones((8, 8, 1), np.uint8))[:h, :w]
    label = np.full((h, w), rng.randint(80, NUM_CLASSES), np.uint8)  # a stuff class
    for _ in range(4):
        y, x = rng.randint(0, h - 8), rng.randint(0, w - 8)
        label[y:y + rng.randint(8, 48), x:x + rng.randint(8, 48)] = rng.randint(0, NUM_CLASSES)
    label[:, :2] = 255  # unlabelled pixels, as the release has
    return img, label


def write_cocostuff164k(out: str, num_train: int = 2, num_val: int = 1,
                        size: Tuple[int, int] = (96, 128), seed: int = 0) -> str:
    """Write the layout above under ``out``; ``size`` is (H, W). Returns the
    ``coco_stuff164k`` directory (the configs' ``data_root``)."""
    rng = np.random.RandomState(seed)
    base = osp.join(out, 'coco_stuff164k')
    to_map_id = np.full(256, 255, np.uint8)
    to_map_id[:NUM_CLASSES] = STUFF_MAP_IDS
    for split, n, first in (('train2017', num_train, 9), ('val2017', num_val, 139)):
        for d in ('images', 'annotations'):
            os.makedirs(osp.join(base, d, split), exist_ok=True)
        for i in range(n):
            name = f'{first + i:012d}'
            img, label = _sample(rng, size)
            Image.fromarray(img).save(osp.join(base, 'images', split, name + '.jpg'))
            ann = osp.join(base, 'annotations', split, name)
            Image.fromarray(to_map_id[label]).save(ann + '.png')
            Image.fromarray(label).save(ann + '_labelTrainIds.png')
    return base


def main(argv: List[str] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('out')
    p.add_argument('--train', type=int, default=2)
    p.add_argument('--val', type=int, default=1)
    p.add_argument('--size', type=int, nargs=2, default=(96, 128), metavar=('H', 'W'))
    p.add_argument('--seed', type=int, default=0)
    a = p.parse_args(argv)
    print('wrote', write_cocostuff164k(a.out, a.train, a.val, tuple(a.size), a.seed))


if __name__ == '__main__':
    main()
