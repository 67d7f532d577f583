#!/usr/bin/env bash
# tools/dist_train.sh CONFIG NUM_PROCS [train.py args...]
# One process per GPU (NCCL) when CUDA is available, else NUM_PROCS CPU processes (gloo).
# Several nodes: run it once on every node with the same NNODES, MASTER_ADDR (node 0's address)
# and PORT, and NODE_RANK=0..NNODES-1; NUM_PROCS is per node. RDZV_TIMEOUT: seconds a node waits
# for the others to start (default 900). One node without PORT: a free port is picked.
CONFIG=$1
NPROCS=$2
source "$(dirname "$0")/_dist_env.sh"
exec "${LAUNCH[@]}" --nproc_per_node="$NPROCS" "$ROOT/tools/train.py" "$CONFIG" \
    --launcher pytorch "${@:3}"
