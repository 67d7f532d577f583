"""Convert an official EVA / EVA-CLIP / timm / EVA-02 checkpoint, or an official whole task
model (e.g. a released EVA-01 detectron2 detector), to an eva_mm one.

    python tools/model_converters/eva_to_eva_mm.py SRC DST [--patch-size 16] [--img-size 1024]
        [--ema] [--fp32]

DST is written atomically as ``{'state_dict': {'backbone.<key>': tensor}, 'meta': {...}}``
(the mmpretrain converter convention), loadable by a whole model through ``load_from`` or by
``EVAViT(init_cfg=dict(type='Pretrained', checkpoint=DST))``. ``--patch-size 16`` resizes the
patch kernel 14 -> 16 (bicubic, as the official ViTDet conversion) and ``--img-size`` resizes
the position grid to ``img_size // patch_size``.

A whole task model (a layout registered by a task adapter, e.g. ``detectron2`` detectors) is
converted key by key to the eva_mm mm* model (every key mapped or reported as dropped) and
written as ``{'state_dict': {...}}``; ``--patch-size``/``--img-size`` do not apply to it.
"""
import argparse
import sys

import torch

import eva_mm  # noqa: F401  (registers the task adapters' whole-model layouts)
from eva_mm.models.checkpoint import (CheckpointError, adapt_geometry, convert_model_state_dict,
                                     convert_state_dict, detect_model_layout, read_checkpoint,
                                     save_checkpoint_atomic, unwrap_checkpoint)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('src', help='official / open_clip / timm checkpoint (.pt, .pth, .bin, '
                   '.safetensors)')
    p.add_argument('dst', help='output file')
    p.add_argument('--patch-size', type=int, help='resize the patch kernel to this size')
    p.add_argument('--img-size', type=int,
                   help='resize the position grid to img_size // patch size')
    p.add_argument('--ema', action='store_true', help='convert model_ema instead of model')
    p.add_argument('--fp32', action='store_true', help='store floating tensors as float32')
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        sd = unwrap_checkpoint(read_checkpoint(args.src), use_ema=args.ema)
        if detect_model_layout(sd) is not None:
            if args.patch_size is not None or args.img_size is not None:
                raise CheckpointError('--patch-size/--img-size apply to backbone checkpoints, '
                                      'not to a whole task model')
            return _write_model(args, *convert_model_state_dict(sd))
        sd, report = convert_state_dict(sd)
    except (CheckpointError, FileNotFoundError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    patch = args.patch_size
    grid = None
    if args.img_size is not None:
        p = patch or sd['patch_embed.proj.weight'].shape[-1]
        if args.img_size % p:
            print(f'error: --img-size {args.img_size} is not a multiple of the patch size {p}',
                  file=sys.stderr)
            return 1
        grid = (args.img_size // p, args.img_size // p)
    notes = report.notes + adapt_geometry(sd, patch, grid)
    if args.fp32:
        sd = {k: v.float() if v.is_floating_point() else v for k, v in sd.items()}
    print(f'layout: {report.layout}; {len(sd)} tensors; {notes}')
    _print_dropped(report)
    meta = dict(source=args.src, layout=report.layout, notes=notes)
    save_checkpoint_atomic({'state_dict': {f'backbone.{k}': v for k, v in sd.items()},
                            'meta': meta}, args.dst)
    print(f'wrote {args.dst}')
    return 0


def _print_dropped(report) -> None:
    for reason in sorted(set(report.dropped.values())):
        keys = [k for k, r in report.dropped.items() if r == reason]
        print(f'dropped {len(keys)} key(s) ({reason}): {keys[:4]}{" ..." if len(keys) > 4 else ""}')


def _write_model(args: argparse.Namespace, sd: dict, report) -> int:
    """Write a converted whole task model."""
    if args.fp32:
        sd = {k: v.float() if v.is_floating_point() else v for k, v in sd.items()}
    print(f'layout: {report.layout} (whole model); {len(sd)} tensors; {report.notes}')
    _print_dropped(report)
    meta = dict(source=args.src, layout=report.layout, notes=report.notes)
    save_checkpoint_atomic({'state_dict': sd, 'meta': meta}, args.dst)
    print(f'wrote {args.dst}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
