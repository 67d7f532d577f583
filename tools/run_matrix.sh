#!/usr/bin/env bash
# The crash / official-layout matrix of issue 13 in one command (a subset of the test suite,
# which CI runs in full): every paper config on tiny generated data in its dataset's official
# layout (train with a validation, tools/test.py, --tta where defined, tools/dist_train.sh
# with 2 CPU processes), SIGKILL + --resume bit-identical per task family (det, seg, video,
# cls, MIM, EVA-CLIP, DeepSpeed; a kill during a save), two nodes in lockstep, bad samples.
#   bash tools/run_matrix.sh [extra pytest args]      (set-up first: bash tools/setup_env.sh)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
exec .venv/bin/python -m pytest -q -p no:cacheprovider -rA --durations=0 \
    tests/test_det_layouts_train.py tests/test_det_protocols.py \
    tests/test_seg_ade20k_layout.py tests/test_seg_cocostuff_layout.py \
    tests/test_video_kinetics_layout.py tests/test_cls_imagenet_layout.py \
    tests/test_cls_eval_layouts.py tests/test_pretrain_layouts.py \
    tests/test_pretrain_deepspeed_layouts.py \
    tests/test_resume.py tests/test_resume_deepspeed.py \
    "tests/test_det_train.py::test_sigkill_and_resume_ends_bit_identical" \
    tests/test_multinode.py tests/test_bad_samples.py "$@"
