"""A few images in the official on-disk layouts of COCO 2017, LVIS v1 and Objects365 v2, to run
the paper detection configs as written (only a data root / size override).

    python tools/data/make_det_layouts.py OUT [--images 2] [--train-images 2] [--size 320 240]
        [--seed 0]

Writes
  OUT/coco/{train2017,val2017}/000000xxxxxx.jpg,
  OUT/coco/annotations/instances_{train2017,val2017}.json
      the 80 COCO categories with their official ids (1..90 with gaps) and names;
  OUT/lvis_v1/{train2017,val2017}/000000xxxxxx.jpg (the same images),
  OUT/lvis_v1/annotations/lvis_v1_{train,val}.json
      the 1203 LVIS v1 categories (mmdet's names, ids 1..1203, ``frequency`` r/c/f and
      ``image_count``), ``coco_url`` as LVIS v1 (the image path under OUT/lvis_v1/ is read from it),
      ``neg_category_ids`` / ``not_exhaustive_category_ids`` per image;
  OUT/Objects365/Obj365_v2/{train,val}/patchN/objects365_v{1,2}_xxxxxxxx.jpg,
  OUT/Objects365/Obj365_v2/annotations/zhiyuan_objv2_{train,val}.json
      as the Objects365 v2 release unpacks: images in ``patchN`` folders per split, the 365
      categories (ids 1..365, mmdet's names = the release's), ``file_name`` as the release writes
      it (``images/v1/patchN/objects365_v1_xxxxxxxx.jpg``; mmdet keeps ``patchN/<file>``), boxes
      only (``iscrowd``, ``isfake``, ``isreflected`` as the release), no masks.
Objects are the shapes of make_shapes_det.py with polygon masks, labelled with arbitrary classes.
The val files do not depend on ``train_images`` (drawn first, from the same seed).
"""
import argparse
import json
import os
import os.path as osp
import sys
from typing import Dict, List, Tuple

import numpy as np

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from make_shapes_det import SHAPES, COLOURS, draw_image  # noqa: E402

COCO_IDS = [i for i in range(1, 91) if i not in (12, 26, 29, 30, 45, 66, 68, 69, 71, 83)]
O365_DIR = 'Objects365/Obj365_v2'


def _coco_names() -> Tuple[str, ...]:
    from mmdet.datasets import CocoDataset
    return CocoDataset.METAINFO['classes']


def _lvis_names() -> Tuple[str, ...]:
    from mmdet.datasets import LVISV1Dataset
    return LVISV1Dataset.METAINFO['classes']


def _o365_names() -> Tuple[str, ...]:
    from mmdet.datasets import Objects365V2Dataset
    return Objects365V2Dataset.METAINFO['classes']


def _draw(rng: np.random.Generator, w: int, h: int) -> Tuple[object, List[dict]]:
    """One w x h image of three shapes; the shapes cut by the crop are dropped."""
    objs = [(SHAPES[int(rng.integers(len(SHAPES)))],
             list(COLOURS.values())[int(rng.integers(len(COLOURS)))]) for _ in range(3)]
    img, shapes = draw_image(rng, max(w, h), objs)
    img = img.crop((0, 0, w, h))  # a non-square image: the test resize and pad matter
    kept = [s for s in shapes
            if s['bbox'][0] + s['bbox'][2] <= w and s['bbox'][1] + s['bbox'][3] <= h]
    return img, kept


def _coco_lvis_split(out: str, split: str, images: int, first_id: int, size: Tuple[int, int],
                     rng: np.random.Generator) -> Tuple[dict, dict]:
    """``split`` (train2017 / val2017) of COCO and LVIS: images written, (coco, lvis) json dicts
    returned without categories."""
    w, h = size
    coco_imgs, coco_anns, lvis_imgs, lvis_anns = [], [], [], []
    for d in (f'coco/{split}', f'lvis_v1/{split}'):
        os.makedirs(osp.join(out, d), exist_ok=True)
    n_coco, n_lvis = len(COCO_IDS), len(_lvis_names())
    for i in range(images):
        img_id = first_id + i
        name = f'{img_id:012d}.jpg'
        img, shapes = _draw(rng, w, h)
        img.save(osp.join(out, f'coco/{split}', name), quality=95)
        img.save(osp.join(out, f'lvis_v1/{split}', name), quality=95)
        coco_imgs.append(dict(id=img_id, file_name=name, width=w, height=h))
        lvis_imgs.append(dict(id=img_id, width=w, height=h, neg_category_ids=[1],
                              not_exhaustive_category_ids=[],
                              coco_url=f'http://images.cocodataset.org/{split}/{name}'))
        for s in shapes:
            ann = dict(image_id=img_id, bbox=s['bbox'], area=s['area'],
                       segmentation=[s['poly']], iscrowd=0)
            coco_anns.append(dict(ann, id=len(coco_anns) + 1,
                                  category_id=COCO_IDS[int(rng.integers(n_coco))]))
            lvis_anns.append(dict(ann, id=len(lvis_anns) + 1,
                                  category_id=int(rng.integers(2, n_lvis + 1))))
    return (dict(images=coco_imgs, annotations=coco_anns),
            dict(images=lvis_imgs, annotations=lvis_anns))


def _o365_split(out: str, split: str, images: int, first_id: int, size: Tuple[int, int],
                rng: np.random.Generator) -> dict:
    """``split`` (train / val) of Objects365 v2: images in patch folders, the json dict."""
    w, h = size
    names = _o365_names()
    imgs, anns = [], []
    for i in range(images):
        img_id = first_id + i
        patch, version = i % 2, 1 + i % 2  # two patch folders, v1 and v2 images as the release
        fname = f'objects365_v{version}_{img_id:08d}.jpg'
        folder = osp.join(out, O365_DIR, split, f'patch{patch}')
        os.makedirs(folder, exist_ok=True)
        img, shapes = _draw(rng, w, h)
        img.save(osp.join(folder, fname), quality=95)
        imgs.append(dict(id=img_id, width=w, height=h,
                         file_name=f'images/v{version}/patch{patch}/{fname}',
                         license=5, url=''))
        for s in shapes:
            anns.append(dict(id=len(anns) + 1, image_id=img_id, bbox=s['bbox'], area=s['area'],
                             category_id=int(rng.integers(1, len(names) + 1)), iscrowd=0,
                             isfake=0, isreflected=0))
    cats = [dict(id=i + 1, name=n, supercategory='object') for i, n in enumerate(names)]
    return dict(images=imgs, annotations=anns, categories=cats,
                licenses=[dict(id=5, name='', url='')])


def _dump(obj: dict, path: str) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(obj, f)


def make_layouts(out: str, images: int = 2, size: Tuple[int, int] = (320, 240), seed: int = 0,
                 train_images: int = 2) -> Dict[str, str]:
    """Write the three layouts under ``out``; returns {'coco', 'lvis', 'o365'} -> data roots
    (with a trailing slash, as the configs' ``data_root``)."""
    rng = np.random.default_rng(seed)
    coco_val, lvis_val = _coco_lvis_split(out, 'val2017', images, 139, size, rng)
    coco_tr, lvis_tr = _coco_lvis_split(out, 'train2017', train_images, 9, size, rng)
    coco_cats = [dict(id=i, name=n, supercategory='thing')
                 for i, n in zip(COCO_IDS, _coco_names())]
    freq = 'rcf'
    lvis_cats = [dict(id=i + 1, name=n, synset=f'{n}.n.01', frequency=freq[i % 3],
                      image_count=1 + i % 50, instance_count=1 + i % 50)
                 for i, n in enumerate(_lvis_names())]
    for split, coco, lvis in (('val', coco_val, lvis_val), ('train', coco_tr, lvis_tr)):
        _dump(dict(coco, categories=coco_cats),
              osp.join(out, f'coco/annotations/instances_{split}2017.json'))
        _dump(dict(lvis, categories=lvis_cats),
              osp.join(out, f'lvis_v1/annotations/lvis_v1_{split}.json'))
    o365 = osp.join(out, O365_DIR)
    _dump(_o365_split(out, 'val', images, 1, size, rng),
          osp.join(o365, 'annotations/zhiyuan_objv2_val.json'))
    _dump(_o365_split(out, 'train', train_images, 1000, size, rng),
          osp.join(o365, 'annotations/zhiyuan_objv2_train.json'))
    return dict(coco=osp.join(out, 'coco') + '/', lvis=osp.join(out, 'lvis_v1') + '/',
                o365=o365 + '/')


def main(argv: List[str] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('out')
    p.add_argument('--images', type=int, default=2, help='val images per dataset')
    p.add_argument('--train-images', type=int, default=2, help='train images per dataset')
    p.add_argument('--size', type=int, nargs=2, default=(320, 240), metavar=('W', 'H'))
    p.add_argument('--seed', type=int, default=0)
    a = p.parse_args(argv)
    roots = make_layouts(a.out, a.images, tuple(a.size), a.seed, a.train_images)
    print(f'wrote {roots}')


if __name__ == '__main__':
    main()
