"""Write a tiny copy of the pre-training inputs, in the layouts the paper configs read.

``configs/pretrain/eva_mim_clip-l.py`` and ``configs/pretrain/eva_clip_g.py`` read, relative
to the working directory (docs/pretrain.md)::

    data/merged_30m/<source>/.../*.jpg       the merged-30M images: one folder tree, no labels
                                             (the official EVA-01 MIM reads an image folder;
                                             eva_mm: mmpretrain CustomDataset, with_label=False)
    data/laion400m/00000.tar ...             img2dataset --output_format webdataset: KEY.jpg,
    data/laion400m/00000_stats.json ...      KEY.txt (caption), KEY.json per sample; the index
    data/laion400m/annotations.json          by tools/data/build_laion_index.py (not: --no-index)
    data/imagenet/val/ILSVRC2012_val_*.JPEG  ImageNet-1K val as mmpretrain's ImageNet reads it
    data/imagenet/meta/val.txt               (zero-shot validation of EVA-CLIP)
    checkpoints/openai_clip_vit-l-14.pth     an open_clip CLIP state dict (MIM teacher and
                                             EVA-CLIP text tower)
    checkpoints/eva_psz14.pt                 the EVA-01 MIM checkpoint layout ({'model': ...},
                                             timm Eva keys + mask_token + lm_head, fp16)

Nothing can be downloaded here, so both weight files are *tiny* models initialised locally
with a fixed seed: the paper configs run on them after the tiny-arch override of
:func:`apply_tiny_arch` (the shapes are those of :data:`TINY_EVA` and :data:`TINY_CLIP`;
``checkpoints/tiny_arch.json`` records them). The img2dataset ``.parquet`` files are not
written (no parquet writer is installed, and nothing in eva_mm reads them)::

    python tools/data/make_pretrain_layouts.py OUT [--images 12] [--shards 2] [--samples 8]
        [--val 4] [--seed 0] [--no-index]
"""
import argparse
import io
import json
import os
import os.path as osp
import sys
import tarfile
from typing import Dict, List, Optional

import numpy as np
from PIL import Image

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
from make_captioned_shapes import CLASSES, draw  # noqa: E402

# the tiny image tower (EVAViT arch dict; patch 14 at 224 as EVA-g: the 16x16 grid of the
# paper's 105-patch block masks)
TINY_EVA = dict(embed_dims=32, num_layers=2, num_heads=2, feedforward_channels=64)
# the tiny open_clip CLIP standing in for OpenAI CLIP-L/14 (ViT-L-14-quickgelu): the vision
# tower is the MIM teacher (224 / patch 14 -> the student's grid), the text tower keeps
# CLIP's vocabulary and context 77 (the configs' tokenizer)
TINY_CLIP = dict(embed_dim=16, quick_gelu=True,
                 vision_cfg=dict(image_size=224, patch_size=14, width=32, layers=1,
                                 head_width=16),
                 text_cfg=dict(context_length=77, vocab_size=49408, width=32, heads=2,
                               layers=1))

# where the merged-30M sources put their images (one relative path pattern per source)
MERGED_SOURCES = ('imagenet21k/train/n01440764/n01440764_{i}.JPEG',
                  'cc12m/00000/00000{i:04d}.jpg',
                  'cc3m/00000/00000{i:04d}.jpg',
                  'objects365/train/patch0/objects365_v1_{i:08d}.jpg',
                  'coco/train2017/{i:012d}.jpg',
                  'ade20k/images/training/ADE_train_{i:08d}.jpg')


def _jpeg(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.convert('RGB').save(buf, format='JPEG', quality=90)
    return buf.getvalue()


def _shape_image(rng: np.random.Generator, index: int, size: int) -> tuple:
    """(JPEG bytes, class name) of one captioned-shapes picture."""
    cls = CLASSES[index % len(CLASSES)]
    im, _ = draw(rng, *cls.split(), size)
    return _jpeg(im), cls


def write_merged30m(root: str, images: int, rng: np.random.Generator) -> List[str]:
    """``images`` JPEGs spread over the merged-30M source folders; their relative paths."""
    paths = []
    for i in range(images):
        rel = MERGED_SOURCES[i % len(MERGED_SOURCES)].format(i=i + 1)
        path = osp.join(root, rel)
        os.makedirs(osp.dirname(path), exist_ok=True)
        size = int(rng.integers(40, 80))
        with open(path, 'wb') as f:
            f.write(_shape_image(rng, i, size)[0])
        paths.append(rel)
    return paths


def write_img2dataset_shards(root: str, shards: int, per_shard: int,
                             rng: np.random.Generator) -> Dict[str, str]:
    """img2dataset webdataset output: ``{s:05d}.tar`` (KEY.jpg, KEY.txt, KEY.json per
    sample, KEY = shard number + 4-digit index) and ``{s:05d}_stats.json``.
    Returns {key: caption}."""
    os.makedirs(root, exist_ok=True)
    captions = {}
    for s in range(shards):
        shard = f'{s:05d}'
        with tarfile.open(osp.join(root, f'{shard}.tar'), 'w') as tf:
            for i in range(per_shard):
                key = f'{shard}{i:04d}'
                jpeg, cls = _shape_image(rng, s * per_shard + i, 64)
                caption = f'a photo of a {cls}'
                meta = dict(url=f'https://example.invalid/{key}.jpg', key=key,
                            caption=caption, status='success', error_message=None,
                            width=64, height=64, original_width=64, original_height=64)
                for name, data in ((f'{key}.jpg', jpeg), (f'{key}.txt', caption.encode()),
                                   (f'{key}.json', json.dumps(meta).encode())):
                    info = tarfile.TarInfo(name)
                    info.size = len(data)
                    tf.addfile(info, io.BytesIO(data))
                captions[key] = caption
        with open(osp.join(root, f'{shard}_stats.json'), 'w') as f:
            json.dump(dict(count=per_shard, successes=per_shard, failed_to_download=0,
                           failed_to_resize=0), f)
    return captions


def write_imagenet_val(root: str, images: int, rng: np.random.Generator) -> List[int]:
    """ImageNet-1K val: ``val/ILSVRC2012_val_{n:08d}.JPEG`` and ``meta/val.txt`` (0-based
    labels, here 0 .. images-1 modulo 1000). Returns the labels."""
    os.makedirs(osp.join(root, 'val'), exist_ok=True)
    os.makedirs(osp.join(root, 'meta'), exist_ok=True)
    lines, labels = [], []
    for n in range(1, images + 1):
        name = f'ILSVRC2012_val_{n:08d}.JPEG'
        pixels = rng.integers(0, 256, (int(rng.integers(48, 96)), 72, 3), dtype=np.uint8)
        with open(osp.join(root, 'val', name), 'wb') as f:
            f.write(_jpeg(Image.fromarray(pixels)))
        labels.append((n - 1) % 1000)
        lines.append(f'{name} {labels[-1]}')
    with open(osp.join(root, 'meta', 'val.txt'), 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return labels


def write_weights(root: str, seed: int) -> Dict[str, str]:
    """The two weight files the paper configs name, tiny and locally initialised."""
    import open_clip
    import torch

    from eva_mm.models import EVAViT
    os.makedirs(root, exist_ok=True)
    torch.manual_seed(seed)
    clip = open_clip.CLIP(TINY_CLIP['embed_dim'], dict(TINY_CLIP['vision_cfg']),
                          dict(TINY_CLIP['text_cfg']), quick_gelu=TINY_CLIP['quick_gelu'])
    teacher = osp.join(root, 'openai_clip_vit-l-14.pth')
    torch.save(clip.state_dict(), teacher)
    # the official MIM checkpoint: timm Eva key names (= EVAViT's), [MASK] token, the MIM
    # head onto the teacher's width, stored in fp16 as the released eva_psz14.pt
    student = EVAViT(dict(TINY_EVA), img_size=224, patch_size=14, use_mask_token=True)
    sd = {k: v.detach().half() for k, v in student.state_dict().items()}
    head = torch.nn.Linear(TINY_EVA['embed_dims'], TINY_CLIP['embed_dim'])
    sd['lm_head.weight'] = head.weight.detach().half()
    sd['lm_head.bias'] = head.bias.detach().half()
    mim = osp.join(root, 'eva_psz14.pt')
    torch.save({'model': sd}, mim)
    with open(osp.join(root, 'tiny_arch.json'), 'w') as f:
        json.dump(dict(eva=TINY_EVA, clip=TINY_CLIP), f, indent=1)
    return dict(teacher=teacher, mim=mim)


def apply_tiny_arch(cfg, kind: str) -> None:
    """Shrink a paper pre-training config (an mmengine ``Config``) in place to the arch of
    the weights written here; ``kind`` is ``'mim'`` or ``'clip'``. Nothing else changes."""
    if kind == 'mim':
        cfg.model.backbone.arch = dict(TINY_EVA)
        cfg.model.teacher.model_name = None
        cfg.model.teacher.model_cfg = dict(embed_dim=TINY_CLIP['embed_dim'],
                                           quick_gelu=TINY_CLIP['quick_gelu'],
                                           vision_cfg=dict(TINY_CLIP['vision_cfg']))
    elif kind == 'clip':
        cfg.model.vision.arch = dict(TINY_EVA)
        cfg.model.embed_dim = TINY_CLIP['embed_dim']
        cfg.model.text_cfg = dict(TINY_CLIP['text_cfg'])
    else:
        raise ValueError(f"kind must be 'mim' or 'clip', got {kind!r}")


def make_pretrain_layouts(out: str, images: int = 12, shards: int = 2, samples: int = 8,
                          val: int = 4, seed: int = 0, index: bool = True,
                          weights: bool = True) -> dict:
    """Everything above under ``out``; returns what was written (paths, counts)."""
    rng = np.random.default_rng(seed)
    data = osp.join(out, 'data')
    merged = write_merged30m(osp.join(data, 'merged_30m'), images, rng)
    laion = osp.join(data, 'laion400m')
    captions = write_img2dataset_shards(laion, shards, samples, rng)
    labels = write_imagenet_val(osp.join(data, 'imagenet'), val, rng)
    summary = dict(merged_30m=merged, laion_captions=captions, imagenet_val_labels=labels)
    if index:
        from build_laion_index import build_laion_index
        summary['laion_index'] = build_laion_index(laion, verbose=False)['out']
    if weights:
        summary.update(write_weights(osp.join(out, 'checkpoints'), seed))
    return summary


def main(argv: Optional[List[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('out', help='folder that gets data/ and checkpoints/ (run the configs there)')
    p.add_argument('--images', type=int, default=12, help='merged-30M images')
    p.add_argument('--shards', type=int, default=2, help='LAION tar shards')
    p.add_argument('--samples', type=int, default=8, help='LAION samples per shard')
    p.add_argument('--val', type=int, default=4, help='ImageNet val images')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--no-index', action='store_true',
                   help='leave data/laion400m/annotations.json to build_laion_index.py')
    a = p.parse_args(argv)
    s = make_pretrain_layouts(a.out, a.images, a.shards, a.samples, a.val, a.seed,
                              index=not a.no_index)
    print(f'[make_pretrain_layouts] {a.out}: {len(s["merged_30m"])} merged-30M images, '
          f'{len(s["laion_captions"])} LAION samples in {a.shards} shards, '
          f'{len(s["imagenet_val_labels"])} ImageNet val images, tiny weights in checkpoints/')


if __name__ == '__main__':
    main()
