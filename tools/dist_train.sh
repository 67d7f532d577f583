#!/usr/bin/env bash
# tools/dist_train.sh CONFIG NUM_PROCS [train.py args...]
# One process per GPU (NCCL) when CUDA is available, else NUM_PROCS CPU processes (gloo).
# Several nodes: run it once on every node with the same NNODES, MASTER_ADDR (node 0's address)
# and PORT, and NODE_RANK=0..NNODES-1; NUM_PROCS is per node. RDZV_TIMEOUT: seconds a node waits
# for the others to start (default 900). One node without PORT: a free port is picked.
CONFIG=$1
NPROCS=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
RDZV_TIMEOUT=${RDZV_TIMEOUT:-900}
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY="${PYTHON:-$( [ -x "$ROOT/.venv/bin/python" ] && echo "$ROOT/.venv/bin/python" || echo python)}"
if [ "$NNODES" -gt 1 ] && [ -z "$MASTER_ADDR" ]; then
    echo "tools/dist_train.sh: NNODES=$NNODES needs MASTER_ADDR (the address of node 0)" >&2
    exit 2
fi
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
if [ -z "$PORT" ]; then
    if [ "$NNODES" -gt 1 ]; then
        PORT=29500
    else  # a free port, so that two runs on one machine do not collide
        PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("", 0)); print(s.getsockname()[1])')
    fi
fi
PYTHONPATH="$ROOT:$PYTHONPATH" OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} \
exec "$PY" -m torch.distributed.run --nnodes="$NNODES" --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" --master_port="$PORT" --rdzv_conf="timeout=$RDZV_TIMEOUT" \
    --nproc_per_node="$NPROCS" "$ROOT/tools/train.py" "$CONFIG" --launcher pytorch "${@:3}"
