#!/usr/bin/env bash
# One-command set-up of eva_mm's environment (idempotent).
#
# Creates .venv/ in the repository root and installs the pinned OpenMMLab 2.x/3.x stack,
# mmcv 2.1.0 built from source WITH its compiled ops, and eva_mm in editable mode.
#
#   bash tools/setup_env.sh            # CPU ops (CUDA ops too when nvcc AND a GPU are present)
#   EVA_MM_FORCE_CUDA=1 bash tools/setup_env.sh   # build the CUDA ops even without a visible GPU
#   EVA_MM_FORCE_CUDA=0 bash tools/setup_env.sh   # never build the CUDA ops
#
# The built mmcv wheel is cached under ${EVA_MM_CACHE:-~/.cache/eva_mm}/wheels, keyed by the
# mmcv version, the torch version and the op flavour (cpu / cuda), so a second run (or a fresh
# clone on the same machine) does not rebuild it. A stamp in .venv records the last successful
# set-up; when the pinned requirements and this script are unchanged a re-run only verifies.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PYTHON="${PYTHON:-python3.11}"
CACHE="${EVA_MM_CACHE:-$HOME/.cache/eva_mm}"
REQ="$ROOT/requirements/stack.txt"

TORCH_VERSION=2.14.1
TORCHVISION_VERSION=0.29.1
MMCV_VERSION=2.1.0

log() { printf '[setup_env %(%H:%M:%S)T] %s\n' -1 "$*"; }
start=$(date +%s)

command -v "$PYTHON" >/dev/null || { echo "error: $PYTHON not found (eva_mm needs Python 3.11)" >&2; exit 1; }

# -- decide the op flavour -------------------------------------------------------------------
if [ -n "${EVA_MM_FORCE_CUDA:-}" ]; then
  FORCE_CUDA="$EVA_MM_FORCE_CUDA"
elif command -v nvcc >/dev/null 2>&1 && command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  FORCE_CUDA=1
else
  FORCE_CUDA=0
fi
FLAVOUR=cpu; [ "$FORCE_CUDA" = 1 ] && FLAVOUR=cuda

# -- fast path: nothing changed since the last successful run ------------------------------
STAMP="$VENV/.eva_mm_setup_stamp"
want_stamp="$(cat "$REQ" "${BASH_SOURCE[0]}" "$ROOT/setup.py" | sha256sum | cut -c1-16)-$FLAVOUR"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want_stamp" ] && \
   "$VENV/bin/python" -c "import mmcv.ops, eva_mm" >/dev/null 2>&1; then
  log "environment up to date ($VENV); nothing to do ($(( $(date +%s) - start ))s)"
  exit 0
fi

# -- venv + build tools --------------------------------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
  log "creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip)
"${PIP[@]}" install -q --upgrade pip wheel ninja
log "installing torch==$TORCH_VERSION torchvision==$TORCHVISION_VERSION"
"${PIP[@]}" install -q "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION"
"${PIP[@]}" install -q "mmengine==0.10.7"

# -- mmcv with compiled ops (cached wheel) --------------------------------------------------
have_mmcv() {
  "$VENV/bin/python" - "$MMCV_VERSION" <<'PY' >/dev/null 2>&1
import sys, mmcv
from mmcv.ops import nms  # noqa: F401  (fails without the compiled extension)
from mmcv.utils import ext_loader
ext_loader.load_ext('_ext', ['nms'])
assert mmcv.__version__ == sys.argv[1]
PY
}
if have_mmcv && [ "$(cat "$VENV/.mmcv_flavour" 2>/dev/null)" = "$FLAVOUR" ]; then
  log "mmcv $MMCV_VERSION with compiled ops already installed"
else
  WHEEL_DIR="$CACHE/wheels/mmcv-$MMCV_VERSION-torch$TORCH_VERSION-py311-$FLAVOUR"
  mkdir -p "$WHEEL_DIR"
  if ! ls "$WHEEL_DIR"/mmcv-*.whl >/dev/null 2>&1; then
    log "building mmcv $MMCV_VERSION with compiled $FLAVOUR ops (one time, ~9 min on 2 cores)"
    BUILD="$(mktemp -d)"
    trap 'rm -rf "$BUILD"' EXIT
    # mmcv 2.1.0's setup.py imports pkg_resources, which setuptools >= 70 no longer ships; the
    # stack install below restores the setuptools torch asks for (eva_mm.compat fix 5).
    "${PIP[@]}" install -q "setuptools<70" 2>&1 | grep -v -E "dependency (resolver|conflicts)|requires setuptools" || true
    "${PIP[@]}" download -q --no-deps --no-binary :all: --no-build-isolation -d "$BUILD" "mmcv==$MMCV_VERSION"
    tar -xzf "$BUILD"/mmcv-"$MMCV_VERSION".tar.gz -C "$BUILD"
    SRC="$BUILD/mmcv-$MMCV_VERSION"
    # torch >= 2.9 headers need C++20 ("#error C++20 or later compatible compiler is required");
    # mmcv 2.1.0's setup.py hard-codes -std=c++14 / -std=c++17.
    sed -i -e 's/-std=c++14/-std=c++20/g' -e 's/-std=c++17/-std=c++20/g' "$SRC/setup.py"
    grep -q 'c++20' "$SRC/setup.py" || { echo "error: could not patch the C++ standard in mmcv's setup.py" >&2; exit 1; }
    (cd "$SRC" && MMCV_WITH_OPS=1 FORCE_CUDA="$FORCE_CUDA" MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
       "$VENV/bin/python" -m pip wheel -v --no-build-isolation --no-deps -w "$BUILD/dist" . \
       > "$BUILD/build.log" 2>&1) || { tail -50 "$BUILD/build.log" >&2; echo "error: mmcv build failed (log above)" >&2; exit 1; }
    # write the cache atomically: a killed build must not leave a half wheel behind
    whl="$(ls "$BUILD"/dist/mmcv-*.whl)"
    cp "$whl" "$WHEEL_DIR/.tmp.whl" && mv "$WHEEL_DIR/.tmp.whl" "$WHEEL_DIR/$(basename "$whl")"
  else
    log "using cached mmcv wheel from $WHEEL_DIR"
  fi
  # a previously installed mmcv-lite (mmcv without ops) would shadow the package metadata
  "${PIP[@]}" uninstall -q -y mmcv-lite >/dev/null 2>&1 || true
  "${PIP[@]}" install -q --no-deps --force-reinstall "$WHEEL_DIR"/mmcv-*.whl
  echo "$FLAVOUR" > "$VENV/.mmcv_flavour"
  # mmcv's own run-time requirements (installed without build isolation above)
  "${PIP[@]}" install -q addict packaging Pillow pyyaml yapf
fi

# -- the rest of the stack, pinned ----------------------------------------------------------
log "installing the pinned stack ($REQ)"
"${PIP[@]}" install -q -r "$REQ"
log "installing eva_mm (editable)"
"${PIP[@]}" install -q --no-deps --no-build-isolation -e "$ROOT"

"$VENV/bin/python" -c "import eva_mm, mmdet.models, mmseg.models, mmaction.models, mmpretrain.models, open_clip, deepspeed" \
  || { echo "error: the stack does not import (see above)" >&2; exit 1; }
echo "$want_stamp" > "$STAMP"
log "done in $(( $(date +%s) - start ))s; python: $VENV/bin/python"
