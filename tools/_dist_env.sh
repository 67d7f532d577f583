# Sourced by tools/dist_train.sh and tools/dist_test.sh: the launch settings of one node.
# NNODES (default 1), NODE_RANK (0), MASTER_ADDR (node 0's address; required with NNODES > 1),
# PORT (29500 with several nodes; one node: a free port, so two runs on a machine do not
# collide), RDZV_TIMEOUT (seconds a node waits for the others, 900), PYTHON (.venv's).
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
RDZV_TIMEOUT=${RDZV_TIMEOUT:-900}
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-$( [ -x "$ROOT/.venv/bin/python" ] && echo "$ROOT/.venv/bin/python" || echo python)}"
if [ "$NNODES" -gt 1 ] && [ -z "$MASTER_ADDR" ]; then
    echo "$(basename "$0"): NNODES=$NNODES needs MASTER_ADDR (the address of node 0)" >&2
    exit 2
fi
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
if [ -z "$PORT" ]; then
    if [ "$NNODES" -gt 1 ]; then
        PORT=29500
    else
        PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("", 0)); print(s.getsockname()[1])')
    fi
fi
LAUNCH=("$PY" -m torch.distributed.run --nnodes="$NNODES" --node_rank="$NODE_RANK"
        --master_addr="$MASTER_ADDR" --master_port="$PORT" --rdzv_conf="timeout=$RDZV_TIMEOUT")
export PYTHONPATH="$ROOT:$PYTHONPATH" OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
