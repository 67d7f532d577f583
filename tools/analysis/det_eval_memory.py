"""Peak host memory of one LVIS test image at the paper protocol (1203 classes, 1000 detections,
1536 input, maskness), eva_mm's RoI head vs mmdet's per-stage mask heads.

    python tools/analysis/det_eval_memory.py [--depth 4] [--width 192] [--size 1536]

Each mode runs in a fresh process: build the LVIS 1536 config with a tiny backbone (the heads
at their paper sizes: 256-channel pyramid, 1024-wide box fc, 1203 classes), bias the class
scores so that >= 1000 candidates pass the 0.001 threshold (as a trained detector does),
predict one 480 x 640 image resized to 1152 x 1536 (masks are pasted at 480 x 640), and report the process's peak RSS (ru_maxrss) before and after
the prediction and the number of detections.
- ``official``: eva_mm.EVACascadeRoIHead as the config sets it (one mask head; the mask logits
  of each box's own class only, RoIs in chunks);
- ``mmdet``: the same detector with mmdet's behaviour (``single_mask_head=False,
  average_probs=False``: a mask head per stage, each (1000, 1203, 28, 28) output kept whole).
"""
import argparse
import json
import os.path as osp
import resource
import subprocess
import sys
import time

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_one(mode: str, depth: int, width: int, size: int) -> dict:
    import torch
    from mmdet.registry import MODELS
    from mmdet.structures import DetDataSample
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    import eva_mm  # noqa: F401
    from eva_mm.det.testing import shrink_detector_cfg

    torch.manual_seed(0)
    cfg = Config.fromfile(osp.join(ROOT, 'configs/det/eva_cmrcnn_lvis_1536.py'))
    shrink_detector_cfg(cfg.model, width=width, depth=depth, heads=max(width // 64, 1))
    cfg.model.backbone.window_block_indexes = [i for i in range(depth) if i % 2 == 0]
    if mode == 'mmdet':
        cfg.model.roi_head.update(single_mask_head=False, average_probs=False)
    init_default_scope('mmdet')
    model = MODELS.build(cfg.model).eval()
    heads = model.roi_head.bbox_head
    for h in heads:  # a few likely classes per box, as a trained detector
        h.fc_cls.bias.data.fill_(-9.0)
        h.fc_cls.bias.data[:8] = -2.0
    h, w = size * 3 // 4, size
    f = w / 640  # an LVIS (COCO) image is at most 640 px: 480 x 640 resized to the test size
    sample = DetDataSample(metainfo=dict(img_shape=(h, w), ori_shape=(480, 640),
                                         scale_factor=(f, f), pad_shape=(size, size),
                                         batch_input_shape=(size, size)))
    x = torch.randn(1, 3, size, size)
    before = _peak_mib()
    t = time.perf_counter()
    with torch.no_grad():
        out = model.predict(x, [sample], rescale=True)[0].pred_instances
    return dict(mode=mode, peak_before_mib=round(before), peak_after_mib=round(_peak_mib()),
                seconds=round(time.perf_counter() - t, 1), detections=len(out),
                masks=list(out.masks.shape))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--depth', type=int, default=4)
    p.add_argument('--width', type=int, default=192)
    p.add_argument('--size', type=int, default=1536)
    p.add_argument('--mode', choices=['official', 'mmdet'], help='(internal) run one mode')
    a = p.parse_args()
    if a.mode:
        print(json.dumps(run_one(a.mode, a.depth, a.width, a.size)))
        return
    import torch
    print(f'torch {torch.__version__}, {torch.get_num_threads()} threads; LVIS 1536 protocol, '
          f'backbone {a.depth} blocks x {a.width}, one 480x640 image at {a.size * 3 // 4}x{a.size}')
    for mode in ('official', 'mmdet'):
        r = subprocess.run([sys.executable, __file__, '--mode', mode, '--depth', str(a.depth),
                            '--width', str(a.width), '--size', str(a.size)],
                           capture_output=True, text=True)
        if r.returncode != 0:
            print(f'{mode}: failed (exit {r.returncode}): {r.stderr.strip().splitlines()[-1:]}')
            continue
        res = json.loads(r.stdout.strip().splitlines()[-1])
        print(f"{mode:9s} peak RSS {res['peak_after_mib']:6d} MiB (after build "
              f"{res['peak_before_mib']} MiB; +{res['peak_after_mib'] - res['peak_before_mib']} "
              f"MiB for the image), {res['detections']} detections, {res['seconds']} s")


if __name__ == '__main__':
    main()
