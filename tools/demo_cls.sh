#!/usr/bin/env bash
# Tiny end-to-end classification demo on CPU: generate shapes_cls, train the tiny EVA
# classifier (configs/cls/eva-tiny_shapes.py) and evaluate the final checkpoint on the val split.
#   bash tools/demo_cls.sh [WORK_DIR]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
WORK_DIR="${1:-work_dirs/eva-tiny_shapes}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
CFG=configs/cls/eva-tiny_shapes.py
echo "[demo_cls] generating data/shapes_cls"
"$PY" tools/data/make_shapes_cls.py --out data/shapes_cls
echo "[demo_cls] training $CFG -> $WORK_DIR"
"$PY" tools/train.py "$CFG" --work-dir "$WORK_DIR"
CKPT="$(ls -t "$WORK_DIR"/epoch_*.pth | head -1)"
echo "[demo_cls] testing $CKPT"
"$PY" tools/test.py "$CFG" "$CKPT" --work-dir "$WORK_DIR"
