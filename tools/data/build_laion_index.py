"""Build the EVA-CLIP training index from img2dataset output, without unpacking it.

img2dataset (the usual LAION-400M downloader) writes numbered shards, either tar files
(``--output_format webdataset``: ``00000.tar`` holding ``KEY.jpg`` / ``KEY.txt`` /
``KEY.json`` per sample) or folders (``--output_format files``: ``00000/KEY.jpg`` ...), with
``00000.parquet`` and ``00000_stats.json`` beside them. This script writes the
``eva_mm.CaptionedImageDataset`` JSON that ``configs/pretrain/eva_clip_g.py`` reads
(``data/laion400m/annotations.json``): one entry per sample, its caption (``KEY.txt``) and
where its image is. For a tar shard that is the byte range of the image inside the tar
(``img_offset``, ``img_nbytes``), which ``eva_mm.LoadImageFromShard`` reads directly; only tar
headers and the small caption files are read here, images are not decoded (``--verify``
decodes them). Paths in the index are relative to the img2dataset folder, the config's
``data_root``::

    python tools/data/build_laion_index.py data/laion400m [--out FILE] [--workers 8]
        [--on-error raise|skip] [--verify]

A corrupt shard (unreadable or truncated tar), a sample without a caption, a caption without
an image, or a shard whose sample count differs from its ``_stats.json`` stops the script
with an error naming the file (``--on-error skip`` leaves those samples/shards out and lists
them at the end instead).
"""
import argparse
import json
import os
import os.path as osp
import re
import sys
import tarfile
import time
from multiprocessing import Pool
from typing import Dict, Iterator, List, Optional, Tuple

IMAGE_EXTS = ('jpg', 'jpeg', 'png', 'webp')
SHARD_RE = re.compile(r'^\d+$')


class ShardError(ValueError):
    """A problem in the img2dataset output; the message names the shard file (and sample)."""


def find_shards(root: str) -> List[str]:
    """The shard names under ``root`` (``00000.tar`` files and ``00000/`` folders), sorted."""
    if not osp.isdir(root):
        raise ShardError(f'{root}: not a directory (give the img2dataset output folder)')
    tars, dirs = set(), set()
    for e in os.scandir(root):
        if e.is_file() and e.name.endswith('.tar') and SHARD_RE.match(e.name[:-4]):
            tars.add(e.name[:-4])
        elif e.is_dir() and SHARD_RE.match(e.name):
            dirs.add(e.name)
    both = sorted(tars & dirs)
    if both:
        raise ShardError(f'{root}: shard {both[0]} exists both as {both[0]}.tar and as the '
                         f'folder {both[0]}/; keep one')
    if not tars and not dirs:
        raise ShardError(f'{root}: no img2dataset shards (00000.tar files or 00000/ folders)')
    return sorted([f'{n}.tar' for n in tars] + list(dirs), key=lambda s: s.split('.')[0])


def _split_name(name: str) -> Tuple[str, str]:
    """'dir/000123.jpg' -> ('dir/000123', 'jpg') (webdataset: the key ends at the first dot
    of the file name)."""
    head, base = osp.split(name)
    key, _, ext = base.partition('.')
    return osp.join(head, key) if head else key, ext.lower()


def _decode_caption(raw: bytes, where: str) -> str:
    try:
        return raw.decode('utf-8').strip()
    except UnicodeDecodeError as e:
        raise ShardError(f'{where}: caption is not UTF-8 ({e})') from e


def _samples(shard: str, images: Dict[str, dict], captions: Dict[str, str],
             problems: List[str]) -> List[dict]:
    """Pair images with captions; unpaired or empty ones become problems."""
    out = []
    for key in sorted(set(images) | set(captions)):
        if key not in images:
            problems.append(f'{shard}: sample {key} has a caption ({key}.txt) but no image')
        elif not captions.get(key):
            what = 'an empty caption' if key in captions else f'no caption ({key}.txt missing)'
            problems.append(f'{shard}: sample {key} has {what}')
        else:
            out.append(dict(images[key], key=key, caption=captions[key]))
    return out


def _verify_image(data: bytes, where: str) -> None:
    import io

    from PIL import Image
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
    except Exception as e:  # noqa: BLE001 - any decoder failure is a corrupt image
        raise ShardError(f'{where}: image does not decode ({type(e).__name__}: {e})') from e


def index_tar_shard(root: str, shard: str, verify: bool = False
                    ) -> Tuple[List[dict], List[str], int]:
    """(index entries, problems, number of images) of one tar shard, from its headers and
    caption members."""
    path = osp.join(root, shard)
    size = osp.getsize(path)
    images: Dict[str, dict] = {}
    captions: Dict[str, str] = {}
    problems: List[str] = []
    try:
        with tarfile.open(path, 'r:') as tf:
            for m in tf:
                if not m.isfile():
                    continue
                key, ext = _split_name(m.name)
                if m.offset_data + m.size > size:
                    raise ShardError(f'{path}: truncated: member {m.name} ends at byte '
                                     f'{m.offset_data + m.size}, the file has {size}')
                if ext in IMAGE_EXTS:
                    if key in images:
                        problems.append(f'{path}: sample {key} has two images')
                        continue
                    images[key] = dict(img_path=shard, img_offset=m.offset_data,
                                       img_nbytes=m.size)
                    if verify:
                        _verify_image(tf.extractfile(m).read(), f'{path}: {m.name}')
                elif ext == 'txt':
                    captions[key] = _decode_caption(tf.extractfile(m).read(), f'{path}: {m.name}')
            # tarfile ends its iteration quietly at a cut or damaged header: a complete archive
            # has a zero block (the end-of-archive marker) where the iteration stopped
            tf.fileobj.seek(tf.offset)
            if tf.fileobj.read(tarfile.BLOCKSIZE) != tarfile.NUL * tarfile.BLOCKSIZE:
                raise ShardError(f'{path}: truncated or damaged: no end-of-archive marker at '
                                 f'byte {tf.offset} (the members after it are unreadable)')
    except (tarfile.TarError, EOFError, OSError) as e:
        raise ShardError(f'{path}: corrupt tar shard ({type(e).__name__}: {e})') from e
    return _samples(path, images, captions, problems), problems, len(images)


def index_dir_shard(root: str, shard: str, verify: bool = False
                    ) -> Tuple[List[dict], List[str], int]:
    """(index entries, problems, number of images) of one folder shard (``00000/KEY.jpg``,
    ``KEY.txt``)."""
    path = osp.join(root, shard)
    images: Dict[str, dict] = {}
    captions: Dict[str, str] = {}
    problems: List[str] = []
    for e in sorted(os.scandir(path), key=lambda e: e.name):
        if not e.is_file():
            continue
        key, ext = _split_name(e.name)
        if ext in IMAGE_EXTS:
            if key in images:
                problems.append(f'{path}: sample {key} has two images')
                continue
            images[key] = dict(img_path=f'{shard}/{e.name}')
            if verify:
                with open(e.path, 'rb') as f:
                    _verify_image(f.read(), e.path)
        elif ext == 'txt':
            with open(e.path, 'rb') as f:
                captions[key] = _decode_caption(f.read(), e.path)
    return _samples(path, images, captions, problems), problems, len(images)


def index_shard(args: Tuple[str, str, bool]) -> Tuple[str, List[dict], List[str]]:
    """(shard, entries, problems) of one shard, also checked against its ``_stats.json``.
    A shard that cannot be read at all yields no entries and one problem."""
    root, shard, verify = args
    try:
        fn = index_tar_shard if shard.endswith('.tar') else index_dir_shard
        entries, problems, num_images = fn(root, shard, verify)
    except ShardError as e:
        return shard, [], [str(e)]
    stats = osp.join(root, f'{shard.split(".")[0]}_stats.json')
    if osp.isfile(stats):
        try:
            with open(stats) as f:
                expected = json.load(f).get('successes')
        except (OSError, ValueError) as e:
            return shard, entries, problems + [f'{stats}: unreadable ({e})']
        if isinstance(expected, int) and num_images != expected:
            problems.append(f'{osp.join(root, shard)}: holds {num_images} images, but {stats} '
                            f'counts {expected} successes (incomplete shard?)')
    return shard, entries, problems


def _progress(done: int, total: int, samples: int, t0: float) -> str:
    dt = max(time.time() - t0, 1e-9)
    eta = dt / done * (total - done) if done else 0.0
    return (f'[build_laion_index] {done}/{total} shards, {samples} samples, '
            f'{samples / dt:.0f} samples/s, elapsed {dt:.0f} s, ETA {eta:.0f} s')


def iter_index(root: str, shards: List[str], workers: int = 1, verify: bool = False
               ) -> Iterator[Tuple[str, List[dict], List[str]]]:
    """(shard, entries, problems) per shard, in shard order (``workers`` processes)."""
    jobs = [(root, s, verify) for s in shards]
    if workers <= 1:
        yield from map(index_shard, jobs)
        return
    with Pool(workers) as pool:
        yield from pool.imap(index_shard, jobs, chunksize=1)


def build_laion_index(root: str, out: Optional[str] = None, workers: int = 1,
                      on_error: str = 'raise', verify: bool = False,
                      progress_every: float = 5.0, verbose: bool = True) -> dict:
    """Write the index of every shard under ``root`` to ``out`` (default
    ``root/annotations.json``), streaming (constant memory per shard).

    Returns a summary dict: ``out``, ``shards``, ``samples``, ``skipped`` (problems left out,
    with ``on_error='skip'``). Raises ShardError on the first problem with ``on_error='raise'``.
    """
    if on_error not in ('raise', 'skip'):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    out = out or osp.join(root, 'annotations.json')
    shards = find_shards(root)
    skipped: List[str] = []
    samples, t0, last = 0, time.time(), 0.0
    tmp = f'{out}.tmp{os.getpid()}'
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    try:
        with open(tmp, 'w', encoding='utf-8') as f:
            f.write('{"metainfo": {"source": "img2dataset", "shards": %d},\n"data_list": [\n'
                    % len(shards))
            for i, (shard, entries, problems) in enumerate(
                    iter_index(root, shards, workers, verify), 1):
                if problems and on_error == 'raise':
                    more = f' (and {len(problems) - 1} more in this shard)' \
                        if len(problems) > 1 else ''
                    raise ShardError(problems[0] + more)
                skipped += problems
                for e in entries:
                    f.write((',\n' if samples else '') + json.dumps(e, ensure_ascii=False))
                    samples += 1
                if verbose and (time.time() - last >= progress_every or i == len(shards)):
                    last = time.time()
                    print(_progress(i, len(shards), samples, t0), flush=True)
            f.write('\n]}\n')
        os.replace(tmp, out)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)
    if samples == 0:
        raise ShardError(f'{root}: the shards hold no usable sample')
    if verbose:
        print(f'[build_laion_index] wrote {samples} samples of {len(shards)} shards to {out} '
              f'({time.time() - t0:.1f} s)', flush=True)
        if skipped:
            print(f'[build_laion_index] left out {len(skipped)} problem(s):', flush=True)
            for p in skipped[:20]:
                print(f'  {p}', flush=True)
            if len(skipped) > 20:
                print(f'  ... and {len(skipped) - 20} more', flush=True)
    return dict(out=out, shards=len(shards), samples=samples, skipped=skipped)


def main(argv: Optional[List[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('root', help='the img2dataset output folder (the config\'s data_root)')
    p.add_argument('--out', help='index file (default ROOT/annotations.json)')
    p.add_argument('--workers', type=int, default=1, help='processes reading shards')
    p.add_argument('--on-error', choices=('raise', 'skip'), default='raise',
                   help='stop at the first corrupt shard / sample without caption (default), '
                   'or leave them out and list them at the end')
    p.add_argument('--verify', action='store_true', help='also decode every image (slow)')
    a = p.parse_args(argv)
    try:
        build_laion_index(a.root, a.out, a.workers, a.on_error, a.verify)
    except ShardError as e:
        sys.exit(f'[build_laion_index] error: {e}')


if __name__ == '__main__':
    main()
