"""Benchmark eva_mm's EVAViT against timm ``Eva`` and mmpretrain ``BEiTViT`` (same arch), and
EVAViT's ViTDet configuration against a manual-attention ViTDet reference.

Everything is measured *interleaved* in one run: each round times every configuration once
(warm-up iterations first, then timed iterations), and the reported time is the median over
all rounds, so slow drifts of a shared machine hit every implementation alike.

    python tools/analysis/benchmark_backbone.py                # full: arch b, 224, batch 8
    python tools/analysis/benchmark_backbone.py --quick        # few iterations, smaller batch

Reported per configuration: ms per iteration, images/s, achieved GFLOP/s (model FLOPs counted
analytically: linear layers, attention matmuls, rel-pos einsums, patch conv; a train step
counts 3x the forward, whatever the implementation recomputes) and peak memory:
  * CUDA: ``torch.cuda.max_memory_allocated`` above the memory held before the step;
  * CPU: a fresh subprocess per configuration, glibc's mmap threshold fixed at 64 KiB so freed
    tensors go back to the OS, peak RSS (``VmHWM``, reset through ``/proc/self/clear_refs``)
    minus the RSS just before the measured step (after one warm-up step). It therefore counts
    activations, gradients and temporaries, not the weights.
The train step is forward + ``loss = out.float().pow(2).mean()`` + backward (no optimizer).
"""
import argparse
import ctypes
import gc
import json
import math
import os
import os.path as osp
import statistics
import subprocess
import sys
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import torch
from torch import nn

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))
from eva_mm.layers.rel_pos import get_rel_pos  # noqa: E402
from eva_mm.layers.window import window_partition, window_unpartition  # noqa: E402

ARCHS = {  # embed_dims, num_layers, num_heads, mlp hidden
    't': (192, 12, 3, 768), 's': (384, 12, 6, 1536), 'b': (768, 12, 12, 3072),
    'l': (1024, 24, 16, 4096), 'g': (1408, 40, 16, 6144)}


# ---------------------------------------------------------------------------------------------
# analytic FLOPs (multiply-add = 2 FLOPs)
# ---------------------------------------------------------------------------------------------
def vit_forward_flops(arch: str, img: int, patch: int, batch: int, cls_token: bool = True,
                      window: int = 0, window_blocks: Sequence[int] = (),
                      rel_pos: bool = False) -> float:
    """Forward FLOPs of a plain / ViTDet ViT on ``batch`` images of ``img`` x ``img``."""
    C, L, heads, hid = ARCHS[arch]
    g = img // patch
    n_patch = g * g
    total = 2.0 * n_patch * C * 3 * patch * patch  # patch-embed conv
    d = C // heads
    for i in range(L):
        if i in window_blocks:
            nw = math.ceil(g / window) ** 2
            seq, side, groups = window * window, window, nw
        else:
            seq, side, groups = n_patch + int(cls_token), g, 1
        tokens = seq * groups
        lin = 2.0 * tokens * (3 * C * C + C * C + 2 * C * hid)
        attn = 2.0 * 2 * groups * heads * seq * seq * d
        rp = 2.0 * 2 * groups * heads * seq * side * d if rel_pos else 0.
        total += lin + attn + rp
    return total * batch


# ---------------------------------------------------------------------------------------------
# manual-attention ViTDet reference (attention matrix and rel-pos terms materialised), the
# kind of code in detectron2 / mmdet ViTDet; written here as the benchmark's baseline
# ---------------------------------------------------------------------------------------------
class RefAttention(nn.Module):
    """Softmax attention computed explicitly, with decomposed rel-pos terms added to it."""

    def __init__(self, dim: int, heads: int, side: int) -> None:
        super().__init__()
        self.heads, self.d = heads, dim // heads
        self.scale = self.d ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.rel_h = nn.Parameter(torch.randn(2 * side - 1, self.d) * .02)
        self.rel_w = nn.Parameter(torch.randn(2 * side - 1, self.d) * .02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, H, W, C) -> (B, H, W, C)."""
        B, H, W, C = x.shape
        qkv = self.qkv(x).reshape(B, H * W, 3, self.heads, self.d).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.reshape(3, B * self.heads, H * W, self.d).unbind(0)
        attn = (q * self.scale) @ k.transpose(-2, -1)  # (B*h, HW, HW)
        rq = q.reshape(B * self.heads, H, W, self.d)
        bias_h = torch.einsum('bhwc,hkc->bhwk', rq, get_rel_pos(H, H, self.rel_h))
        bias_w = torch.einsum('bhwc,wkc->bhwk', rq, get_rel_pos(W, W, self.rel_w))
        attn = (attn.view(B * self.heads, H, W, H, W) + bias_h[:, :, :, :, None]
                + bias_w[:, :, :, None, :]).view(B * self.heads, H * W, H * W)
        out = attn.softmax(dim=-1) @ v
        out = out.view(B, self.heads, H, W, self.d).permute(0, 2, 3, 1, 4).reshape(B, H, W, C)
        return self.proj(out)


class RefBlock(nn.Module):

    def __init__(self, dim: int, heads: int, hid: int, window: int, grid: int) -> None:
        super().__init__()
        self.window = window
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = RefAttention(dim, heads, window if window else grid)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(dim, hid), nn.GELU(), nn.Linear(hid, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, H, W, C)."""
        y = self.norm1(x)
        if self.window:
            windows, pad_hw = window_partition(y, self.window)
            y = window_unpartition(self.attn(windows), self.window, pad_hw, y.shape[1:3])
        else:
            y = self.attn(y)
        x = x + y
        return x + self.mlp(self.norm2(x))


class RefViTDet(nn.Module):
    """Plain ViT backbone of ViTDet with manual attention; (B, 3, H, W) -> (B, C, H/P, W/P)."""

    def __init__(self, arch: str, img: int, patch: int, window: int,
                 window_blocks: Sequence[int]) -> None:
        super().__init__()
        C, L, heads, hid = ARCHS[arch]
        g = img // patch
        self.patch_embed = nn.Conv2d(3, C, patch, patch)
        self.pos_embed = nn.Parameter(torch.randn(1, g, g, C) * .02)
        self.blocks = nn.ModuleList(
            RefBlock(C, heads, hid, window if i in window_blocks else 0, g) for i in range(L))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x).permute(0, 2, 3, 1) + self.pos_embed
        for blk in self.blocks:
            x = blk(x)
        return x.permute(0, 3, 1, 2)


# ---------------------------------------------------------------------------------------------
# model factories: each returns (module, forward callable)
# ---------------------------------------------------------------------------------------------
def build(name: str, args: argparse.Namespace) -> Tuple[nn.Module, Callable]:
    C, L, heads, hid = ARCHS[args.arch]
    if name in ('eva_mm', 'eva_mm+cp'):
        from eva_mm.models import EVAViT
        m = EVAViT(arch=args.arch, img_size=args.img_size, patch_size=args.patch_size,
                   out_type='raw', with_cp=name.endswith('+cp'))
        return m, lambda x: m(x)[0]
    if name == 'timm':
        from timm.models.eva import Eva
        m = Eva(img_size=args.img_size, patch_size=args.patch_size, embed_dim=C, depth=L,
                num_heads=heads, mlp_ratio=hid / C, qkv_bias=True, num_classes=0)
        return m, m.forward_features
    if name == 'mmpretrain':
        from mmpretrain.models.backbones import BEiTViT
        m = BEiTViT(arch=dict(embed_dims=C, num_layers=L, num_heads=heads,
                              feedforward_channels=hid),
                    img_size=args.img_size, patch_size=args.patch_size, out_type='raw',
                    final_norm=True, use_abs_pos_emb=True, use_rel_pos_bias=False,
                    use_shared_rel_pos_bias=False, layer_scale_init_value=0.)
        return m, lambda x: m(x)[0]
    if name in ('eva_mm-vitdet', 'eva_mm-vitdet+cp'):
        from eva_mm.models import EVAViT
        from eva_mm.models.eva_vit import vitdet_window_blocks
        # the EVA-01 detector's set-up: 14x14 position grid resized to the input, rel-pos in
        # every block (window tables 31 rows, global tables for the input size)
        m = EVAViT(arch=args.arch, img_size=224, patch_size=16, with_cls_token=False,
                   out_type='featmap', window_size=16,
                   window_block_indexes=vitdet_window_blocks(L, 4), use_rel_pos=True,
                   rel_pos_img_size=args.vitdet_size, with_cp=name.endswith('+cp'))
        return m, lambda x: m(x)[0]
    if name == 'manual-vitdet':
        from eva_mm.models.eva_vit import vitdet_window_blocks
        m = RefViTDet(args.arch, args.vitdet_size, 16, 16, vitdet_window_blocks(L, 4))
        return m, m
    raise ValueError(f'unknown implementation {name!r}')


def spec_flops(bench: str, args: argparse.Namespace, batch: int) -> float:
    if bench == 'plain':
        return vit_forward_flops(args.arch, args.img_size, args.patch_size, batch)
    from eva_mm.models.eva_vit import vitdet_window_blocks
    L = ARCHS[args.arch][1]
    return vit_forward_flops(args.arch, args.vitdet_size, 16, batch, cls_token=False, window=16,
                             window_blocks=vitdet_window_blocks(L, 4), rel_pos=True)


# ---------------------------------------------------------------------------------------------
# one step
# ---------------------------------------------------------------------------------------------
def make_step(model: nn.Module, fwd: Callable, x: torch.Tensor, mode: str,
              precision: str) -> Callable[[], None]:
    dev = x.device.type
    amp = precision == 'bf16'

    def step() -> None:
        with torch.autocast(dev, dtype=torch.bfloat16, enabled=amp):
            if mode == 'infer':
                with torch.inference_mode():
                    fwd(x)
                return
            out = fwd(x)
        out.float().pow(2).mean().backward()
        for p in model.parameters():
            p.grad = None

    model.train(mode == 'train')
    return step


def sync(dev: str) -> None:
    if dev == 'cuda':
        torch.cuda.synchronize()


# ---------------------------------------------------------------------------------------------
# CPU peak memory in a subprocess
# ---------------------------------------------------------------------------------------------
def _proc_status_kb(key: str) -> int:
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(key + ':'):
                return int(line.split()[1])
    raise RuntimeError(f'{key} not in /proc/self/status')


def mem_worker(spec: dict) -> None:
    """Run in a fresh process: print the peak memory (MiB) of one step as JSON."""
    args = argparse.Namespace(**spec['args'])
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model, fwd = build(spec['impl'], args)
    size = args.img_size if spec['bench'] == 'plain' else args.vitdet_size
    x = torch.randn(spec['batch'], 3, size, size)
    step = make_step(model, fwd, x, spec['mode'], spec['precision'])
    step()  # warm-up: lazy allocations, oneDNN caches
    gc.collect()
    try:
        ctypes.CDLL('libc.so.6').malloc_trim(0)
    except OSError:
        pass
    method = 'VmHWM reset'
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
    except OSError:
        method = 'ru_maxrss (no reset possible; an upper bound)'
    base = _proc_status_kb('VmRSS')
    step()
    peak = _proc_status_kb('VmHWM')
    print(json.dumps(dict(peak_mib=(peak - base) / 1024, method=method)))


def cpu_peak_mib(impl: str, bench: str, mode: str, precision: str, batch: int,
                 args: argparse.Namespace) -> Optional[float]:
    spec = dict(impl=impl, bench=bench, mode=mode, precision=precision, batch=batch,
                args=vars(args))
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_='65536', MALLOC_TRIM_THRESHOLD_='0')
    res = subprocess.run([sys.executable, __file__, '--mem-worker', json.dumps(spec)],
                         capture_output=True, text=True, env=env)
    if res.returncode != 0:
        print(f'  memory worker failed for {impl}/{mode}/{precision}:\n{res.stderr[-2000:]}')
        return None
    return json.loads(res.stdout.strip().splitlines()[-1])['peak_mib']


def cuda_peak_mib(step: Callable[[], None]) -> float:
    step()
    torch.cuda.synchronize()
    gc.collect()
    torch.cuda.empty_cache()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    step()
    torch.cuda.synchronize()
    return (torch.cuda.max_memory_allocated() - base) / 2**20


# ---------------------------------------------------------------------------------------------
# driver
# ---------------------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> List[dict]:
    dev = args.device
    torch.set_num_threads(args.threads)
    configs = []  # (bench, impl, precision, mode, batch)
    if not args.skip_plain:
        for prec in args.precisions:
            for mode in args.modes:
                impls = ['eva_mm', 'timm', 'mmpretrain']
                if mode == 'train':
                    impls.insert(1, 'eva_mm+cp')
                for impl in impls:
                    configs.append(('plain', impl, prec, mode, args.batch))
    if not args.skip_vitdet:
        for prec in args.vitdet_precisions:
            for mode in args.modes:
                for impl in ('eva_mm-vitdet', 'manual-vitdet'):
                    configs.append(('vitdet', impl, prec, mode, args.vitdet_batch))

    models: Dict[str, Tuple[nn.Module, Callable]] = {}
    inputs: Dict[str, torch.Tensor] = {}
    for bench, impl, *_ in configs:
        if impl not in models:
            torch.manual_seed(0)
            m, f = build(impl, args)
            models[impl] = (m.to(dev), f)
            n = sum(p.numel() for p in m.parameters())
            print(f'built {impl:16s} {n / 1e6:8.2f}M parameters', flush=True)
    g = torch.Generator().manual_seed(0)
    inputs['plain'] = torch.randn(args.batch, 3, args.img_size, args.img_size,
                                  generator=g).to(dev)
    if not args.skip_vitdet:
        inputs['vitdet'] = torch.randn(args.vitdet_batch, 3, args.vitdet_size, args.vitdet_size,
                                       generator=g).to(dev)

    times: Dict[tuple, List[float]] = {c: [] for c in configs}
    for r in range(args.rounds):
        for c in configs:
            bench, impl, prec, mode, batch = c
            model, fwd = models[impl]
            step = make_step(model, fwd, inputs[bench], mode, prec)
            for _ in range(args.warmup):
                step()
            for _ in range(args.iters):
                sync(dev)
                t0 = time.perf_counter()
                step()
                sync(dev)
                times[c].append(time.perf_counter() - t0)
            print(f'round {r + 1}/{args.rounds} {bench:6s} {impl:16s} {prec:4s} {mode:5s} '
                  f'{statistics.median(times[c][-args.iters:]) * 1e3:9.1f} ms', flush=True)

    results = []
    for c in configs:
        bench, impl, prec, mode, batch = c
        t = statistics.median(times[c])
        flops = spec_flops(bench, args, batch) * (3 if mode == 'train' else 1)
        row = dict(bench=bench, impl=impl, precision=prec, mode=mode, batch=batch,
                   ms=t * 1e3, img_s=batch / t, gflops=flops / t / 1e9,
                   spread=(min(times[c]) * 1e3, max(times[c]) * 1e3), peak_mib=None)
        results.append(row)

    if not args.no_memory:
        for row in results:
            if row['mode'] != 'train' and not args.memory_infer:
                continue
            if row['precision'] not in (args.memory_precisions or args.precisions):
                continue
            if dev == 'cuda':
                model, fwd = models[row['impl']]
                step = make_step(model, fwd, inputs[row['bench']], row['mode'], row['precision'])
                row['peak_mib'] = cuda_peak_mib(step)
            else:
                row['peak_mib'] = cpu_peak_mib(row['impl'], row['bench'], row['mode'],
                                               row['precision'], row['batch'], args)
            print(f"peak memory {row['bench']:6s} {row['impl']:16s} {row['precision']:4s} "
                  f"{row['mode']:5s} {row['peak_mib'] if row['peak_mib'] is None else round(row['peak_mib'])} MiB",
                  flush=True)
    return results


def find(results: List[dict], **kw) -> Optional[dict]:
    for r in results:
        if all(r[k] == v for k, v in kw.items()):
            return r
    return None


def report(results: List[dict], args: argparse.Namespace) -> List[str]:
    lines = []
    hdr = (f"{'bench':6s} {'impl':16s} {'prec':4s} {'mode':5s} {'batch':>5s} {'ms/iter':>9s} "
           f"{'(min-max)':>17s} {'img/s':>8s} {'GFLOP/s':>8s} {'peak MiB':>9s} {'x ref':>6s}")
    lines += [hdr, '-' * len(hdr)]
    for r in results:
        ref = find(results, bench=r['bench'], precision=r['precision'], mode=r['mode'],
                   impl='timm' if r['bench'] == 'plain' else 'manual-vitdet')
        ratio = ref['ms'] / r['ms'] if ref else float('nan')
        mem = '-' if r['peak_mib'] is None else f"{r['peak_mib']:.0f}"
        lines.append(f"{r['bench']:6s} {r['impl']:16s} {r['precision']:4s} {r['mode']:5s} "
                     f"{r['batch']:5d} {r['ms']:9.1f} {r['spread'][0]:8.1f}-{r['spread'][1]:<8.1f} "
                     f"{r['img_s']:8.2f} {r['gflops']:8.1f} {mem:>9s} {ratio:6.2f}")
    lines.append('')
    lines.append('x ref = speed relative to timm Eva (plain) or the manual-attention ViTDet '
                 '(vitdet); > 1 is faster.')

    def target(label: str, value: Optional[float], goal: float, higher: bool = True) -> None:
        if value is None or math.isnan(value):
            lines.append(f'TARGET {label}: not measured')
            return
        ok = value >= goal if higher else value <= goal
        lines.append(f"TARGET {label}: {value:.2f} (goal {'>=' if higher else '<='} {goal}) "
                     f"{'MET' if ok else 'NOT MET'}")

    def speed(bench: str, impl: str, ref: str, prec: str, mode: str) -> Optional[float]:
        a = find(results, bench=bench, impl=impl, precision=prec, mode=mode)
        b = find(results, bench=bench, impl=ref, precision=prec, mode=mode)
        return b['ms'] / a['ms'] if a and b else None

    def mem(bench: str, impl: str, ref: str, prec: str) -> Optional[float]:
        a = find(results, bench=bench, impl=impl, precision=prec, mode='train')
        b = find(results, bench=bench, impl=ref, precision=prec, mode='train')
        if a and b and a['peak_mib'] and b['peak_mib']:
            return a['peak_mib'] / b['peak_mib']
        return None

    target('train step eva_mm/timm bf16', speed('plain', 'eva_mm', 'timm', 'bf16', 'train'), 1.15)
    target('train step eva_mm/timm fp32', speed('plain', 'eva_mm', 'timm', 'fp32', 'train'), 1.0)
    for prec in args.precisions:
        target(f'peak memory eva_mm(with_cp)/timm {prec}',
               mem('plain', 'eva_mm+cp', 'timm', prec), 0.6, higher=False)
    for prec in args.vitdet_precisions:  # rel-pos in every block must not cost the detector
        target(f'ViTDet train step eva_mm/manual {prec}',
               speed('vitdet', 'eva_mm-vitdet', 'manual-vitdet', prec, 'train'), 1.0)
        target(f'ViTDet peak memory eva_mm/manual {prec}',
               mem('vitdet', 'eva_mm-vitdet', 'manual-vitdet', prec), 0.5, higher=False)
    return lines


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--arch', default='b', choices=sorted(ARCHS))
    p.add_argument('--img-size', type=int, default=224)
    p.add_argument('--patch-size', type=int, default=14)
    p.add_argument('--batch', type=int, default=8)
    p.add_argument('--iters', type=int, default=5, help='timed iterations per round')
    p.add_argument('--warmup', type=int, default=2, help='untimed iterations per round')
    p.add_argument('--rounds', type=int, default=3)
    p.add_argument('--precisions', nargs='+', default=['fp32', 'bf16'], choices=['fp32', 'bf16'])
    p.add_argument('--modes', nargs='+', default=['infer', 'train'], choices=['infer', 'train'])
    p.add_argument('--vitdet-size', type=int, default=1024)
    p.add_argument('--vitdet-batch', type=int, default=1)
    p.add_argument('--vitdet-precisions', nargs='+', default=['fp32', 'bf16'],
                   choices=['fp32', 'bf16'])
    p.add_argument('--skip-plain', action='store_true')
    p.add_argument('--skip-vitdet', action='store_true')
    p.add_argument('--no-memory', action='store_true', help='skip peak-memory measurement')
    p.add_argument('--memory-precisions', nargs='+', choices=['fp32', 'bf16'],
                   help='precisions whose peak memory is measured (default: all run)')
    p.add_argument('--memory-infer', action='store_true',
                   help='also measure inference memory (default: train steps only)')
    p.add_argument('--device', default='auto', choices=['auto', 'cpu', 'cuda'])
    p.add_argument('--threads', type=int, default=int(os.environ.get('OMP_NUM_THREADS', '2')))
    p.add_argument('--quick', action='store_true',
                   help='few iterations for a loaded CPU: batch 4, 1 warm-up, 2 timed, 2 rounds, '
                        'ViTDet fp32 train only (explicit flags given after it still win)')
    p.add_argument('--out', help='write the results as JSON here')
    p.add_argument('--mem-worker', help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        given = set(a.split('=')[0] for a in (argv if argv is not None else sys.argv[1:]))
        defaults = dict(batch=4, warmup=1, iters=2, rounds=2, vitdet_precisions=['fp32'])
        for k, v in defaults.items():
            if '--' + k.replace('_', '-') not in given:
                setattr(args, k, v)
    if args.device == 'auto':
        args.device = 'cuda' if torch.cuda.is_available() else 'cpu'
    for k in ('batch', 'iters', 'rounds', 'img_size', 'vitdet_size', 'vitdet_batch', 'threads'):
        if getattr(args, k) <= 0:
            p.error(f'--{k.replace("_", "-")} must be positive')
    if args.warmup < 0:
        p.error('--warmup must be >= 0')
    if args.img_size % args.patch_size:
        p.error(f'--img-size {args.img_size} is not a multiple of --patch-size {args.patch_size}')
    if args.vitdet_size % 16:
        p.error(f'--vitdet-size {args.vitdet_size} is not a multiple of 16')
    return args


def main() -> None:
    args = parse_args()
    if args.mem_worker:
        mem_worker(json.loads(args.mem_worker))
        return
    print(f'torch {torch.__version__}, device {args.device}, threads {args.threads}, arch '
          f'{args.arch}, plain {args.img_size}px/p{args.patch_size} batch {args.batch}, ViTDet '
          f'{args.vitdet_size}px/p16 window 16 batch {args.vitdet_batch}; {args.rounds} rounds x '
          f'({args.warmup} warm-up + {args.iters} timed) iterations, interleaved', flush=True)
    t0 = time.time()
    results = run(args)
    lines = report(results, args)
    print('\n'.join(lines))
    print(f'total {time.time() - t0:.0f} s')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(args=vars(args), results=results, report=lines), f, indent=1)


if __name__ == '__main__':
    main()
