#!/usr/bin/env bash
# Tiny end-to-end EVA pre-training demo on CPU (minutes):
#   1. generate captioned_shapes (tools/data/make_captioned_shapes.py)
#   2. EVA MIM with a tiny random-init CLIP teacher (configs/pretrain/eva-tiny_mim_shapes.py)
#   3. EVA-CLIP initialised from that MIM checkpoint, zero-shot evaluation on held-out images
#      (configs/pretrain/eva-tiny_clip_shapes.py)
#   4. export to open_clip and check the round trip (tools/export_open_clip.py)
# Usage: bash tools/demo_pretrain.sh [--dist N]   (--dist 2: both runs as 2 DDP processes, gloo)
# MIM_ITERS / CLIP_ITERS (env) shorten the runs for a smoke test (defaults: the configs' 200 / 300).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python)}"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
NPROC=1
if [ "${1:-}" = "--dist" ]; then NPROC=${2:-2}; fi
WORK=${WORK:-work_dirs}

train() {  # CONFIG WORK_DIR [extra args]
  if [ "$NPROC" -gt 1 ]; then
    OMP_NUM_THREADS=1 PORT=${PORT:-29511} bash tools/dist_train.sh "$1" "$NPROC" --work-dir "$2" "${@:3}"
  else
    "$PY" tools/train.py "$1" --work-dir "$2" "${@:3}"
  fi
}

echo "== [1/4] data"
[ -f data/captioned_shapes/val.json ] || "$PY" tools/data/make_captioned_shapes.py

short() {  # N -> cfg-options that stop training after N iterations
  [ -n "$1" ] && echo "train_cfg.max_iters=$1 train_cfg.val_interval=$1" || true
}

echo "== [2/4] EVA MIM (tiny student, tiny frozen CLIP teacher)"
MIM_OPTS=$(short "${MIM_ITERS:-}")
train configs/pretrain/eva-tiny_mim_shapes.py "$WORK/eva-tiny_mim_shapes" \
  ${MIM_OPTS:+--cfg-options $MIM_OPTS}
MIM_CKPT="$WORK/eva-tiny_mim_shapes/eva_mim_student.pth"

echo "== [3/4] EVA-CLIP from the MIM checkpoint, zero-shot on held-out images"
train configs/pretrain/eva-tiny_clip_shapes.py "$WORK/eva-tiny_clip_shapes" \
  --cfg-options "model.vision.init_cfg.checkpoint=$MIM_CKPT" $(short "${CLIP_ITERS:-}")
CLIP_CKPT="$(cat "$WORK/eva-tiny_clip_shapes/last_checkpoint")"

echo "== [4/4] export to open_clip"
"$PY" tools/export_open_clip.py configs/pretrain/eva-tiny_clip_shapes.py \
  "$CLIP_CKPT" "$WORK/eva-tiny_clip_open_clip" --name eva-clip-tiny

echo "== summary"
"$PY" - "$WORK" <<'PYEOF'
import glob, json, sys
work = sys.argv[1]
def scalars(run):
    files = sorted(glob.glob(f'{work}/{run}/*/vis_data/scalars.json'))
    return [json.loads(l) for l in open(files[-1])] if files else []
mim = scalars('eva-tiny_mim_shapes')
tr = [r for r in mim if 'loss' in r]
va = [r for r in mim if 'mim/cos_sim' in r]
print('MIM: train loss ' + (f"{tr[0]['loss']:.3f} (iter {tr[0]['step']}) -> {tr[-1]['loss']:.3f} "
                            f"(iter {tr[-1]['step']})" if tr else '(not logged)')
      + '; val masked-patch cos sim ' + ' -> '.join(f"{r['mim/cos_sim']:.3f}@{r['step']}" for r in va))
clip = scalars('eva-tiny_clip_shapes')
tr = [r for r in clip if 'loss' in r]
va = [r for r in clip if 'zero_shot/top1' in r]
print('EVA-CLIP: train loss ' + (f"{tr[0]['loss']:.3f} -> {tr[-1]['loss']:.3f}" if tr else '(not logged)')
      + '; zero-shot top-1 ' + ' -> '.join(f"{r['zero_shot/top1']:.1f}%@{r['step']}" for r in va)
      + ' (12 classes, chance 8.3%)')
PYEOF
