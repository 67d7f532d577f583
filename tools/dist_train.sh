#!/usr/bin/env bash
# tools/dist_train.sh CONFIG NUM_PROCS [train.py args...]
# One process per GPU (NCCL) when CUDA is available, else NUM_PROCS CPU processes (gloo).
CONFIG=$1
NPROCS=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY="${PYTHON:-$( [ -x "$ROOT/.venv/bin/python" ] && echo "$ROOT/.venv/bin/python" || echo python)}"
PYTHONPATH="$ROOT:$PYTHONPATH" OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} \
"$PY" -m torch.distributed.run --nnodes="$NNODES" --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" --nproc_per_node="$NPROCS" --master_port="$PORT" \
    "$ROOT/tools/train.py" "$CONFIG" --launcher pytorch "${@:3}"
