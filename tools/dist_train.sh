#!/usr/bin/env bash
# Distributed training through torchrun: NGPUS processes on this node.
#   bash tools/dist_train.sh CONFIG NGPUS [train.py args...]
# Multi-node: run it on every node with NNODES, NODE_RANK, MASTER_ADDR and PORT set, e.g.
#   NNODES=2 NODE_RANK=0 MASTER_ADDR=10.0.0.1 PORT=29500 bash tools/dist_train.sh CONFIG 8
# Without CUDA, the NGPUS processes run on the CPU with the gloo backend.
set -eo pipefail
if [ $# -lt 2 ]; then
    echo "usage: bash $0 CONFIG NGPUS [train.py args...]" >&2
    exit 2
fi
. "$(dirname "$0")/torchrun_common.sh"
CONFIG=$1
GPUS=$2
shift 2
aigc_torchrun train.py "$GPUS" "$CONFIG" "$@"
