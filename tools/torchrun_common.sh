# Shared by tools/dist_train.sh and tools/dist_test.sh (sourced, not run).
# aigc_torchrun SCRIPT NGPUS ARGS...: checks NGPUS, sets up the environment and execs torchrun with
# NNODES, NODE_RANK, MASTER_ADDR and PORT (defaults 1, 0, 127.0.0.1, 29500) and --launcher pytorch.
aigc_torchrun() {
    local script=$1 gpus=$2
    shift 2
    if ! [[ "$gpus" =~ ^[1-9][0-9]*$ ]]; then
        echo "error: NGPUS must be a positive integer (processes per node), got '$gpus'" >&2
        exit 2
    fi
    local root
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    . "$root/tools/env.sh"
    exec python -m torch.distributed.run \
        --nnodes="${NNODES:-1}" \
        --node_rank="${NODE_RANK:-0}" \
        --master_addr="${MASTER_ADDR:-127.0.0.1}" \
        --nproc_per_node="$gpus" \
        --master_port="${PORT:-29500}" \
        "$root/tools/$script" "$@" --launcher pytorch
}
