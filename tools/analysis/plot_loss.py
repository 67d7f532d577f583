"""Plot training-loss curves from mmengine's ``scalars.json`` log (LocalVisBackend).

    python tools/analysis/plot_loss.py WORK_DIR_OR_SCALARS_JSON [--keys loss loss_cls ...]
        [--out loss.png]

WORK_DIR: the newest ``*/vis_data/scalars.json`` under it is used.
"""
import argparse
import glob
import json
import os
import os.path as osp
from typing import Dict, List, Sequence, Tuple


def find_scalars(path: str) -> str:
    """A scalars.json file, or the newest one under a work dir."""
    if osp.isfile(path):
        return path
    found = sorted(glob.glob(osp.join(path, '*', 'vis_data', 'scalars.json')), key=os.path.getmtime)
    if not found:
        raise FileNotFoundError(f'no */vis_data/scalars.json under {path!r} (was the run logged '
                                'with LocalVisBackend?)')
    return found[-1]


def read_curves(scalars: str, keys: Sequence[str]) -> Dict[str, List[Tuple[int, float]]]:
    """{key: [(iter, value), ...]} of the training records (lines with an ``iter``)."""
    curves: Dict[str, List[Tuple[int, float]]] = {k: [] for k in keys}
    with open(scalars) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            rec = json.loads(line)
            step = rec.get('iter', rec.get('step'))
            if step is None:
                continue
            for k in keys:
                if k in rec:
                    curves[k].append((int(step), float(rec[k])))
    if not any(curves.values()):
        raise ValueError(f'{scalars}: none of the keys {list(keys)} was logged')
    return curves


def plot(curves: Dict[str, List[Tuple[int, float]]], out: str, title: str = '') -> None:
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4))
    for k, pts in curves.items():
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], label=k)
    ax.set_xlabel('iteration')
    ax.set_ylabel('loss')
    ax.set_title(title)
    ax.grid(alpha=.3)
    ax.legend()
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('path', help='work dir or scalars.json')
    p.add_argument('--keys', nargs='+', default=['loss', 'loss_rpn_cls', 's0.loss_cls',
                                                  's0.loss_bbox', 's0.loss_mask'])
    p.add_argument('--out', default=None, help='PNG path (default WORK_DIR/loss_curve.png)')
    a = p.parse_args()
    scalars = find_scalars(a.path)
    curves = read_curves(scalars, a.keys)
    out = a.out or osp.join(a.path if osp.isdir(a.path) else osp.dirname(scalars),
                            'loss_curve.png')
    plot(curves, out, title=osp.basename(osp.normpath(a.path)))
    first, last = curves['loss'][0] if curves.get('loss') else None, \
        curves['loss'][-1] if curves.get('loss') else None
    print(f'[plot_loss] {scalars} -> {out}' + (f'; loss {first[1]:.3f} (iter {first[0]}) -> '
                                              f'{last[1]:.3f} (iter {last[0]})' if first else ''))


if __name__ == '__main__':
    main()
