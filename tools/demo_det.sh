#!/usr/bin/env bash
# End-to-end CPU demo of eva_mm detection: synthetic shapes -> train the tiny EVA Cascade Mask
# R-CNN -> evaluate (COCO box/mask mAP) -> PNG predictions (mmdet's DetLocalVisualizer) and a
# loss-curve PNG.     bash tools/demo_det.sh [WORK_DIR] [extra train.py args...]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python)}"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} PYTHONPATH="$ROOT:${PYTHONPATH:-}"
CFG=configs/det/eva-tiny_cmrcnn_shapes.py
WORK=$(realpath -m "${1:-work_dirs/eva-tiny_cmrcnn_shapes}")  # absolute: mmdet joins test_out_dir per iter
start=$(date +%s)

echo "[demo_det] 1/4 synthetic shapes data -> data/shapes_det"
[ -f data/shapes_det/annotations/instances_val.json ] || "$PY" tools/data/make_shapes_det.py

echo "[demo_det] 2/4 training $CFG -> $WORK"
"$PY" tools/train.py "$CFG" --work-dir "$WORK" "${@:2}"
CKPT=$(ls -t "$WORK"/iter_*.pth | head -1)

echo "[demo_det] 3/4 testing $CKPT (predictions drawn to $WORK/<time>/vis)"
"$PY" tools/test.py "$CFG" "$CKPT" --work-dir "$WORK" --out "$WORK/predictions.pkl" \
    --cfg-options default_hooks.visualization.draw=True \
    default_hooks.visualization.test_out_dir=vis default_hooks.visualization.score_thr=0.3 \
    2>&1 | tee "$WORK/test.log"

echo "[demo_det] 4/4 loss curve"
"$PY" tools/analysis/plot_loss.py "$WORK" --out "$WORK/loss_curve.png"
echo "[demo_det] metrics:"; grep -E "coco/(bbox|segm)_mAP" "$WORK/test.log" | tail -1
echo "[demo_det] prediction PNGs: $(ls -d "$WORK"/*/vis | tail -1) ; done in $(( $(date +%s) - start ))s"
