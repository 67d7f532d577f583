#!/usr/bin/env bash
# Tiny end-to-end semantic segmentation demo on CPU: generate the synthetic shapes set,
# train EVA + ViT-Adapter + Mask2Former, evaluate mIoU (mmseg IoUMetric) on held-out
# images, and save PNG overlays of the predictions (mmseg SegLocalVisualizer).
#
#   bash tools/demo_seg.sh [WORK_DIR]        (default work_dirs/demo_seg)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
WORK="${1:-work_dirs/demo_seg}"
CFG=configs/seg/eva-tiny_mask2former_shapes.py
# one intra-op thread: this tiny model is many small ops; on a shared, loaded CPU two
# threads measured ~9x slower per step than one
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"

echo "== 1/3 generate data/shapes_seg"
"$PY" tools/data/make_shapes_seg.py --out data/shapes_seg
echo "== 2/3 train ($CFG) -> $WORK"
start=$(date +%s)
"$PY" tools/train.py "$CFG" --work-dir "$WORK"
echo "== train took $(( $(date +%s) - start )) s"
CKPT="$(ls -t "$WORK"/iter_*.pth | head -1)"
echo "== 3/3 test $CKPT (mIoU on data/shapes_seg/images/validation) + overlays"
"$PY" tools/test.py "$CFG" "$CKPT" --work-dir "$WORK/test" \
    --cfg-options default_hooks.visualization.draw=True default_hooks.visualization.interval=1
echo "== overlays (image | prediction):"
find "$WORK/test" -name '*.png' -path '*vis_image*' | head -3
echo "   ... $(find "$WORK/test" -name '*.png' -path '*vis_image*' | wc -l) PNG files"
