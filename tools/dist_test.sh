#!/usr/bin/env bash
# Distributed evaluation through torchrun (CPU processes with gloo when there is no CUDA).
#   bash tools/dist_test.sh CONFIG CHECKPOINT NGPUS [test.py args...]
# Multi-node: NNODES, NODE_RANK, MASTER_ADDR and PORT as for tools/dist_train.sh.
set -eo pipefail
if [ $# -lt 3 ]; then
    echo "usage: bash $0 CONFIG CHECKPOINT NGPUS [test.py args...]" >&2
    exit 2
fi
. "$(dirname "$0")/torchrun_common.sh"
CONFIG=$1
CHECKPOINT=$2
GPUS=$3
shift 3
aigc_torchrun test.py "$GPUS" "$CONFIG" "$CHECKPOINT" "$@"
