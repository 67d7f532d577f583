#!/usr/bin/env bash
# tools/dist_test.sh CONFIG CHECKPOINT NUM_PROCS [test.py args...]
# One process per GPU (NCCL) when CUDA is available, else NUM_PROCS CPU processes (gloo).
# Several nodes: as tools/dist_train.sh (NNODES, NODE_RANK, MASTER_ADDR, PORT, RDZV_TIMEOUT).
CONFIG=$1
CHECKPOINT=$2
NPROCS=$3
source "$(dirname "$0")/_dist_env.sh"
exec "${LAUNCH[@]}" --nproc_per_node="$NPROCS" "$ROOT/tools/test.py" "$CONFIG" "$CHECKPOINT" \
    --launcher pytorch "${@:4}"
