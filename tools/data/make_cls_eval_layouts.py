"""A few images in the on-disk layouts of the ImageNet-1K robustness sets EVA is evaluated on,
to run the paper test configs (``configs/cls/eva_in1k_336_test-*.py``) as written (only a data
root override).

    python tools/data/make_cls_eval_layouts.py OUT [--sets v2 real a r sketch]
        [--per-class 1] [--v2-classes 0 2 10 100 999] [--real-val 4] [--seed 0]

Writes under OUT, as the releases unpack:
  imagenetv2/imagenetv2-matched-frequency-format-val/<class index>/<sha1>.jpeg
      ImageNet-V2 matched-frequency (``imagenetv2-matched-frequency.tar.gz``): folders named
      by the integer ImageNet-1K class index (``0`` .. ``999``; here only ``--v2-classes``),
      images named by a 40-hex hash with a lower-case ``.jpeg`` extension;
  imagenet-real/real.json
      ImageNet-ReaL (``real.json`` of google-research/reassessed-imagenet): a JSON list with one
      list of labels per ImageNet val image (index i = ``ILSVRC2012_val_{i+1:08d}``), some
      with two labels, some empty (images ReaL leaves unlabelled); here ``--real-val`` entries
      for the first val images, built on their labels in ``OUT/imagenet/meta/val.txt`` when
      it exists (``tests/test_cls_imagenet_layout.write_imagenet``), else random classes;
  imagenet-a/<wnid>/<score>_<label> _ <label>_<score>.jpg + imagenet-a/README.txt
      ImageNet-A (``imagenet-a.tar``): its 200 WordNet-id folders, all present (file names
      with spaces, as the release), and the release's README at the top;
  imagenet-r/<wnid>/<rendition>_<i>.jpg + imagenet-r/README.txt
      ImageNet-R (``imagenet-r.tar``): its 200 WordNet-id folders, all present;
  imagenet-sketch/sketch/<wnid>/<wnid>_<i>-<k>.JPEG
      ImageNet-Sketch (``ImageNet-Sketch.zip``): all 1000 ImageNet-1K WordNet-id folders,
      mostly single-channel (grey) JPEGs, some RGB.
``--per-class`` images per class folder (1-2 keeps the 200/1000-folder sets small). The
images are random blocky textures of varying size (32-64 px): they exercise the data path,
not recognition. Class lists: timm's copies (``eva_mm.cls.imagenet_synsets``,
``subset_synsets``).
"""
import argparse
import hashlib
import io
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from PIL import Image

SETS = ('v2', 'real', 'a', 'r', 'sketch')
V2_DIR = osp.join('imagenetv2', 'imagenetv2-matched-frequency-format-val')
SKETCH_DIR = osp.join('imagenet-sketch', 'sketch')
RENDITIONS = ('art', 'cartoon', 'deviantart', 'embroidery', 'graffiti', 'origami', 'painting',
              'sketch', 'toy', 'videogame')


def _image(rng: np.random.RandomState, grey: bool = False) -> Image.Image:
    """A random blocky image, 32-64 px a side, RGB or single-channel."""
    h, w = rng.randint(32, 65, size=2)
    blocks = rng.randint(0, 256, (h // 8 + 1, w // 8 + 1, 1 if grey else 3), dtype=np.uint8)
    arr = np.kron(blocks, np.ones((8, 8, 1), np.uint8))[:h, :w]
    return Image.fromarray(arr[..., 0] if grey else arr)


def _jpeg_bytes(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format='JPEG', quality=90)
    return buf.getvalue()


def _save_jpeg(img: Image.Image, path: str) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'wb') as f:
        f.write(_jpeg_bytes(img))


def write_imagenet_v2(out: str, classes: Sequence[int] = (0, 2, 10, 100, 999),
                      per_class: int = 1, seed: int = 0) -> List[Tuple[str, int]]:
    """ImageNet-V2 matched-frequency under ``out``; returns [(path, class index)]."""
    rng = np.random.RandomState(seed)
    written = []
    for label in classes:
        if not 0 <= int(label) < 1000:
            raise ValueError(f'ImageNet-V2 class folders are indices 0..999, got {label}')
        for _ in range(per_class):
            data = _jpeg_bytes(_image(rng))
            path = osp.join(out, V2_DIR, str(int(label)), hashlib.sha1(data).hexdigest() + '.jpeg')
            os.makedirs(osp.dirname(path), exist_ok=True)
            with open(path, 'wb') as f:
                f.write(data)
            written.append((path, int(label)))
    return written


def write_real_json(out: str, num_val: int = 4, seed: int = 0, empty: Sequence[int] = (0, ),
                    val_labels: Optional[Sequence[int]] = None
                    ) -> Tuple[str, List[List[int]]]:
    """``out/imagenet-real/real.json`` for the first ``num_val`` ImageNet val images: the
    entries at ``empty`` are empty; every other holds the image's original label
    (``val_labels``; random classes if None), every second one also its neighbour class (a
    ReaL set of two near-synonyms). Returns (path, labels)."""
    rng = np.random.RandomState(seed)
    if val_labels is not None and len(val_labels) < num_val:
        raise ValueError(f'{num_val} ReaL entries need {num_val} val labels, '
                         f'got {len(val_labels)}')
    labels: List[List[int]] = []
    for i in range(num_val):
        first = int(rng.randint(0, 1000)) if val_labels is None else int(val_labels[i])
        if i in empty:
            labels.append([])
        else:
            labels.append([first, (first + 1) % 1000] if i % 2 else [first])
    path = osp.join(out, 'imagenet-real', 'real.json')
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(labels, f)
    return path, labels


def read_val_labels(val_list: str) -> List[int]:
    """Labels of ``meta/val.txt`` (``ILSVRC2012_val_XXXXXXXX.JPEG <label>`` lines) in val
    image order (by the number in the file name)."""
    pairs = []
    with open(val_list) as f:
        for line in f:
            if line.strip():
                name, label = line.split()
                pairs.append((int(osp.splitext(name)[0].rsplit('_', 1)[1]), int(label)))
    return [label for _, label in sorted(pairs)]


def write_imagenet_subset(out: str, subset: str, per_class: int = 1,
                          seed: int = 0) -> List[Tuple[str, str]]:
    """ImageNet-A (``subset='imagenet-a'``) or -R (``'imagenet-r'``) under ``out/<subset>``:
    all 200 WordNet-id folders and the README; returns [(path, wnid)]."""
    from eva_mm.cls import subset_synsets
    rng = np.random.RandomState(seed)
    root = osp.join(out, subset)
    written = []
    for wnid in subset_synsets(subset):
        for i in range(per_class):
            if subset == 'imagenet-a':  # e.g. "0.000116_digital clock _ digital clock_0.86.jpg"
                score = rng.uniform()
                name = f'{rng.uniform():.6f}_thing {i} _ thing {i}_{score:.6f}.jpg'
            else:
                name = f'{RENDITIONS[rng.randint(len(RENDITIONS))]}_{i}.jpg'
            path = osp.join(root, wnid, name)
            _save_jpeg(_image(rng), path)
            written.append((path, wnid))
    with open(osp.join(root, 'README.txt'), 'w') as f:
        f.write(f'{subset}: 200 ImageNet classes, one folder per WordNet id\n')
        f.writelines(f'{w} class\n' for w in subset_synsets(subset))
    return written


def write_imagenet_sketch(out: str, per_class: int = 1, seed: int = 0,
                          wnids: Optional[Sequence[str]] = None) -> List[Tuple[str, str]]:
    """ImageNet-Sketch under ``out/imagenet-sketch/sketch``: a folder per ImageNet-1K WordNet
    id (all 1000 unless ``wnids``), grey JPEGs with every fourth RGB; returns [(path, wnid)]."""
    from eva_mm.cls import imagenet_synsets
    rng = np.random.RandomState(seed)
    written = []
    for j, wnid in enumerate(imagenet_synsets() if wnids is None else wnids):
        for i in range(per_class):
            path = osp.join(out, SKETCH_DIR, wnid, f'{wnid}_{1000 + j}-{i + 1}.JPEG')
            _save_jpeg(_image(rng, grey=(j + i) % 4 != 0), path)
            written.append((path, wnid))
    return written


def write_all(out: str, sets: Sequence[str] = SETS, per_class: int = 1,
              v2_classes: Sequence[int] = (0, 2, 10, 100, 999), real_val: int = 4,
              seed: int = 0) -> Dict[str, object]:
    """Write the chosen ``sets`` under ``out``; returns what each writer returned. ReaL
    sets are built on the original labels of ``out/imagenet/meta/val.txt`` if it exists."""
    unknown = set(sets) - set(SETS)
    if unknown:
        raise ValueError(f'unknown sets {sorted(unknown)}; choose from {SETS}')
    done: Dict[str, object] = {}
    if 'v2' in sets:
        done['v2'] = write_imagenet_v2(out, v2_classes, per_class, seed)
    if 'real' in sets:
        val_list = osp.join(out, 'imagenet', 'meta', 'val.txt')
        done['real'] = write_real_json(
            out, real_val, seed,
            val_labels=read_val_labels(val_list) if osp.isfile(val_list) else None)
    if 'a' in sets:
        done['a'] = write_imagenet_subset(out, 'imagenet-a', per_class, seed)
    if 'r' in sets:
        done['r'] = write_imagenet_subset(out, 'imagenet-r', per_class, seed)
    if 'sketch' in sets:
        done['sketch'] = write_imagenet_sketch(out, per_class, seed)
    return done


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('out')
    p.add_argument('--sets', nargs='+', choices=SETS, default=list(SETS))
    p.add_argument('--per-class', type=int, default=1)
    p.add_argument('--v2-classes', type=int, nargs='+', default=[0, 2, 10, 100, 999])
    p.add_argument('--real-val', type=int, default=4,
                   help='entries of real.json (ImageNet val images 1..N)')
    p.add_argument('--seed', type=int, default=0)
    a = p.parse_args(argv)
    done = write_all(a.out, a.sets, a.per_class, a.v2_classes, a.real_val, a.seed)
    for name, what in done.items():
        n = len(what[1]) if name == 'real' else len(what)
        print(f'{name}: {n} {"label sets" if name == "real" else "images"}')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
