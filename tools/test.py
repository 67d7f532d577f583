"""Evaluate a checkpoint on a config's test set with mmengine's Runner (mm convention).

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--tta] [--out FILE]
        [--cfg-options k=v ...] [--launcher none|pytorch|slurm]
"""
import argparse
import os
import os.path as osp

import eva_mm  # noqa: F401
from mmengine.config import Config, DictAction
from mmengine.runner import Runner


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description='Test (and evaluate) a model')
    p.add_argument('config', help='config file path')
    p.add_argument('checkpoint', help='checkpoint file')
    p.add_argument('--work-dir', help='where to save logs and metrics')
    p.add_argument('--tta', action='store_true',
                   help='test-time augmentation (the config must define tta_model/tta_pipeline)')
    p.add_argument('--out', help='dump raw predictions to this pickle file')
    p.add_argument('--cfg-options', nargs='+', action=DictAction)
    p.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none')
    p.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = p.parse_args()
    os.environ.setdefault('LOCAL_RANK', str(args.local_rank))
    return args


def main() -> dict:
    """Run the test; returns the metrics (also logged)."""
    args = parse_args()
    cfg = Config.fromfile(args.config)
    cfg.launcher = args.launcher
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    if args.work_dir:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    cfg.load_from = args.checkpoint
    missing = [k for k in ('test_dataloader', 'test_evaluator', 'test_cfg')
               if cfg.get(k) is None]
    if missing:
        raise SystemExit(f'{args.config} defines no test set ({", ".join(missing)} is None), '
                         f'so there is nothing to evaluate: test its checkpoint '
                         f'with a config that has one')
    if args.tta:
        if 'tta_model' not in cfg or 'tta_pipeline' not in cfg:
            raise SystemExit(f'--tta: {args.config} defines no tta_model / tta_pipeline')
        if 'module' in cfg.model:
            raise SystemExit(f'--tta: the model of {args.config} is already a test-time '
                             f'augmentation wrapper ({cfg.model.type}); run it without --tta')
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model
    if args.out:
        cfg.test_evaluator = [cfg.test_evaluator] if isinstance(cfg.test_evaluator, dict) \
            else list(cfg.test_evaluator)
        cfg.test_evaluator.append(dict(type='DumpResults', out_file_path=args.out))
    runner = Runner.from_cfg(cfg)
    return runner.test()


if __name__ == '__main__':
    main()
