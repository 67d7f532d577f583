"""Build the Kinetics-722 (K722) annotation lists from the K400 / K600 / K700 lists.

EVA's intermediate video fine-tune (SPEC §3) trains on the union of K400, K600 and K700:

1. classes are merged **by name** (case, ``_`` vs space and repeated spaces ignored),
2. a video (YouTube id) listed more than once — in one or several datasets — is kept once
   (the first occurrence in ``--src`` order; a different class name for the same video is
   counted as a conflict and the first label kept),
3. every **training** video whose YouTube id appears in **any** of the validation lists is
   dropped (no val leakage into the intermediate model).

Inputs per dataset (``--src NAME TRAIN_LIST VAL_LIST LABEL_MAP``): mmaction2 VideoDataset lists
(``<relative path> <label index>`` per line) and the label map (one class name per line, the
line index is the label). A clip file name ``<youtube_id>_<start:06d>_<end:06d>.<ext>`` (the
official Kinetics naming) is identified by its YouTube id; other names by their stem.

Outputs under ``--out``: ``label_map_k722.txt``, ``k722_train_list_videos.txt``,
``k722_val_list_videos.txt`` (the merged, de-duplicated validation videos, for monitoring),
``k722_stats.json`` and, per source, ``k722_to_<NAME>_mapping.npy``: the K722 index of every
class of that release in its label order (int64, the official ``k722_to_k400_mapping.npy``
format), which ``eva_mm.EVAVideoHead(class_mapping=...)`` uses to initialise the K400/600/700
head from the K722 one. Output paths are ``<NAME>/<split>/<relative path>``, so with
``data/k722/k400/train -> data/kinetics400/videos_train`` (etc.) symlinks the lists work with
``data_prefix=dict(video='data/k722')``.

Example::

    python tools/data/build_k722.py --out data/k722 \\
        --src k400 k400_train.txt k400_val.txt label_map_k400.txt \\
        --src k600 k600_train.txt k600_val.txt label_map_k600.txt \\
        --src k700 k700_train.txt k700_val.txt label_map_k700.txt
"""
import argparse
import json
import os
import os.path as osp
import re
import sys
from dataclasses import dataclass
from typing import Dict, List, Sequence, Tuple

import numpy as np

_CLIP_RE = re.compile(r'^(?P<yid>.+)_(\d{6})_(\d{6})$')


@dataclass
class Source:
    """One Kinetics release: its name and its annotation files."""
    name: str
    train_list: str
    val_list: str
    label_map: str


def normalize_class(name: str) -> str:
    """Canonical class name: lower case, ``_`` -> space, quotes dropped, spaces collapsed."""
    name = name.strip().strip('"\'').replace('_', ' ').lower()
    return ' '.join(name.split())


def video_id(path: str) -> str:
    """YouTube id of a clip path (``.../<yid>_<start>_<end>.mp4``), else the file stem."""
    stem = osp.splitext(osp.basename(path))[0]
    m = _CLIP_RE.match(stem)
    return m.group('yid') if m else stem


def read_label_map(path: str) -> List[str]:
    """Class names (label = line index); ValueError on empty or duplicate names."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'label map not found: {path}')
    with open(path) as f:
        names = [ln.strip() for ln in f if ln.strip()]
    if not names:
        raise ValueError(f'label map {path} is empty')
    seen: Dict[str, int] = {}
    for i, n in enumerate(names):
        k = normalize_class(n)
        if k in seen:
            raise ValueError(f'label map {path}: class {n!r} (line {i + 1}) repeats line '
                             f'{seen[k] + 1} after name normalisation')
        seen[k] = i
    return names


def read_list(path: str, num_classes: int) -> List[Tuple[str, int]]:
    """(relative path, label) pairs of a VideoDataset list; ValueError naming file:line."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'annotation list not found: {path}')
    out = []
    with open(path) as f:
        for ln_no, ln in enumerate(f, 1):
            if not ln.strip():
                continue
            parts = ln.split()
            if len(parts) != 2:
                raise ValueError(f'{path}:{ln_no}: expected "<path> <label>", got {ln.strip()!r}')
            try:
                label = int(parts[1])
            except ValueError:
                raise ValueError(f'{path}:{ln_no}: label {parts[1]!r} is not an integer') from None
            if not 0 <= label < num_classes:
                raise ValueError(f'{path}:{ln_no}: label {label} out of range for the '
                                 f'{num_classes} classes of its label map')
            out.append((parts[0], label))
    return out


def build_k722(sources: Sequence[Source]) -> dict:
    """Merge the sources. Returns ``dict(classes, train, val, stats, mappings)`` where
    ``train`` and ``val`` are lists of (output path, merged label) and ``mappings[name][i]`` is
    the merged index of class ``i`` of source ``name``."""
    if not sources:
        raise ValueError('no source dataset given')
    names = [s.name for s in sources]
    if len(set(names)) != len(names):
        raise ValueError(f'source names must be unique, got {names}')
    maps, trains, vals = {}, {}, {}
    for s in sources:
        maps[s.name] = read_label_map(s.label_map)
        trains[s.name] = read_list(s.train_list, len(maps[s.name]))
        vals[s.name] = read_list(s.val_list, len(maps[s.name]))

    display: Dict[str, str] = {}  # normalised -> first spelling seen
    for s in sources:
        for n in maps[s.name]:
            display.setdefault(normalize_class(n), n.strip())
    classes = sorted(display)
    index = {c: i for i, c in enumerate(classes)}

    def merged_label(src: str, label: int) -> int:
        return index[normalize_class(maps[src][label])]

    val_ids = {video_id(p) for s in sources for p, _ in vals[s.name]}
    stats = {'classes': len(classes), 'per_source': {}, 'train_kept': 0,
             'train_dropped_leaked_val': 0, 'train_dropped_duplicate': 0,
             'duplicate_label_conflicts': 0, 'val_kept': 0, 'val_dropped_duplicate': 0}
    train: List[Tuple[str, int]] = []
    seen: Dict[str, int] = {}
    for s in sources:
        st = stats['per_source'][s.name] = {
            'classes': len(maps[s.name]), 'train_in': len(trains[s.name]),
            'val_in': len(vals[s.name]), 'train_kept': 0}
        for p, lab in trains[s.name]:
            vid, m = video_id(p), merged_label(s.name, lab)
            if vid in val_ids:
                stats['train_dropped_leaked_val'] += 1
                continue
            if vid in seen:
                stats['train_dropped_duplicate'] += 1
                stats['duplicate_label_conflicts'] += int(seen[vid] != m)
                continue
            seen[vid] = m
            train.append((f'{s.name}/train/{p}', m))
            st['train_kept'] += 1
    val: List[Tuple[str, int]] = []
    seen_val = set()
    for s in sources:
        for p, lab in vals[s.name]:
            vid = video_id(p)
            if vid in seen_val:
                stats['val_dropped_duplicate'] += 1
                continue
            seen_val.add(vid)
            val.append((f'{s.name}/val/{p}', merged_label(s.name, lab)))
    stats['train_kept'], stats['val_kept'] = len(train), len(val)
    mappings = {s.name: [index[normalize_class(n)] for n in maps[s.name]] for s in sources}
    return {'classes': [display[c] for c in classes], 'train': train, 'val': val,
            'stats': stats, 'mappings': mappings}


def write_outputs(result: dict, out: str) -> None:
    """Write the label map, the two lists and the statistics under ``out``."""
    os.makedirs(out, exist_ok=True)
    with open(osp.join(out, 'label_map_k722.txt'), 'w') as f:
        f.write('\n'.join(result['classes']) + '\n')
    for split in ('train', 'val'):
        with open(osp.join(out, f'k722_{split}_list_videos.txt'), 'w') as f:
            f.write(''.join(f'{p} {lab}\n' for p, lab in result[split]))
    with open(osp.join(out, 'k722_stats.json'), 'w') as f:
        json.dump(result['stats'], f, indent=2)
    for name, mapping in result['mappings'].items():
        np.save(osp.join(out, f'k722_to_{name}_mapping.npy'), np.asarray(mapping, np.int64))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description='Build Kinetics-722 lists from K400/K600/K700.')
    p.add_argument('--src', nargs=4, action='append', required=True,
                   metavar=('NAME', 'TRAIN_LIST', 'VAL_LIST', 'LABEL_MAP'),
                   help='one Kinetics release (repeat; order sets duplicate precedence)')
    p.add_argument('--out', default='data/k722')
    a = p.parse_args(argv)
    result = build_k722([Source(*s) for s in a.src])
    write_outputs(result, a.out)
    print(json.dumps(result['stats'], indent=2))
    print(f'[build_k722] {len(result["classes"])} classes, {len(result["train"])} train / '
          f'{len(result["val"])} val videos -> {a.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
