#!/usr/bin/env bash
# One prepared run of the speed checks on a GPU machine (H100/H200), in well under 8 minutes:
#   1. environment: Python, torch/CUDA, the OpenMMLab stack (installed from .whl/ into /tmp/site
#      if it is not importable; see benchmarks/fetch_wheels.sh);
#   2. training step, ours vs UniMatch's (benchmarks/train_step.py): fp32, channels-last,
#      bf16 and fp16 AMP, at batch 12 + 12, 256 x 256; plus the data pipeline per worker count;
#   3. the metric benchmark (benchmarks/metrics.py);
#   4. two 300-iteration trainings of configs/demo/aigcmatch_demo_3case.py on demo data made here,
#      same seed: fp32 + default memory format (the slow path) and channels-last + bf16 AMP
#      (the fast path); their val mDice and seconds;
#   5. torch.compile of backbone and head (bf16 + channels-last), if time allows.
# Every stage has its own timeout, cut to what is left of DEADLINE seconds (default 450) for the
# whole script; a failed or skipped stage is recorded and the next one runs. Results go to $OUT
# (default ./gpu_results): gpu_results.json (every number, the goals checked) and gpu_log.txt (this
# script's trace and every stage's full output); the stage logs also stay in $WORK/logs.
#
#   bash benchmarks/gpu.sh                     # on the GPU machine, from the repository root
#   DEVICE=cpu TINY=1 bash benchmarks/gpu.sh   # dry run of every stage on a CPU, tiny sizes
set -u -o pipefail

OUT="${OUT:-./gpu_results}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
export OUT
exec > >(tee -a "$OUT/gpu_log.txt") 2>&1
set -x
T0=$(date +%s)
DEADLINE="${DEADLINE:-450}"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-python3}"
TINY="${TINY:-0}"
WORK="${WORK:-/tmp/aigcmatch_gpu_work}"
export WORK
rm -rf "$WORK"
mkdir -p "$WORK/logs"
STAGES="$WORK/stages.jsonl"
: > "$STAGES"
export PYTHONUNBUFFERED=1

# stage NAME SECONDS CMD...: run with a timeout (cut to what is left of DEADLINE), record rc and
# duration, print the output into this log; never abort the script.
stage() {
    local name="$1" limit="$2"
    shift 2
    local left=$(( DEADLINE - ($(date +%s) - T0) - 15 ))
    if [ "$left" -lt 20 ]; then
        echo "{\"stage\": \"$name\", \"rc\": null, \"seconds\": 0, \"skipped\": \"deadline\"}" >> "$STAGES"
        return 0
    fi
    [ "$left" -lt "$limit" ] && limit="$left"
    local start end rc timed_out=false
    start=$(date +%s%N)
    timeout --kill-after=10 "$limit" "$@" > "$WORK/logs/$name.log" 2>&1
    rc=$?
    end=$(date +%s%N)
    { set +x; } 2> /dev/null
    echo "======== $name: rc=$rc"
    cat "$WORK/logs/$name.log"
    set -x
    { [ $rc -eq 124 ] || [ $rc -eq 137 ]; } && timed_out=true
    echo "{\"stage\": \"$name\", \"rc\": $rc, \"seconds\": $(( (end - start) / 1000000 ))e-3, \"limit\": $limit, \"timed_out\": $timed_out}" >> "$STAGES"
    return 0
}

# ---------------------------------------------------------------- 1. environment
WHEELS=(mmengine-0.10.7 mmcv_lite-2.1.0 mmsegmentation-1.2.2 addict-2.4.0 yapf-0.43.0
        platformdirs-4.14.8 termcolor-3.3.0 prettytable-3.18.0 wcwidth-0.9.4 ftfy-6.3.1
        nibabel-5.4.2 medpy-0.5.2)
if ! "$PY" -c "import mmengine, mmseg, mmcv, medpy, ftfy, prettytable" > /dev/null 2>&1; then
    files=()
    for w in "${WHEELS[@]}"; do
        f=$(ls .whl/"$w"-*.whl 2>/dev/null | head -n 1)
        [ -n "$f" ] && files+=("$f") || echo "missing wheel $w (run benchmarks/fetch_wheels.sh)"
    done
    if [ "${#files[@]}" -gt 0 ]; then
        "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
            --target /tmp/site "${files[@]}"
    fi
    export PYTHONPATH="/tmp/site:$ROOT${PYTHONPATH:+:$PYTHONPATH}"
else
    export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
fi
stage env 60 "$PY" - <<'EOF'
import json, os, platform, sys
info = dict(python=platform.python_version(), executable=sys.executable)
try:
    import torch
    info.update(torch=torch.__version__, cuda_available=torch.cuda.is_available(),
                cuda=torch.version.cuda)
    if torch.cuda.is_available():
        info['gpu'] = torch.cuda.get_device_name(0)
        info['gpu_mem_gib'] = torch.cuda.get_device_properties(0).total_memory / 2**30
    try:
        import triton
        info['triton'] = triton.__version__
    except Exception as err:
        info['triton'] = f'missing ({type(err).__name__})'
except Exception as err:
    info['torch'] = f'missing ({err})'
for mod in ('mmengine', 'mmcv', 'mmseg', 'medpy', 'h5py', 'scipy', 'numpy', 'cv2'):
    try:
        info[mod] = __import__(mod).__version__
    except Exception as err:
        info[mod] = f'missing ({type(err).__name__}: {err})'
try:
    import projects.aigcmatch  # noqa: F401
    info['aigcmatch_import'] = 'ok'
except Exception as err:
    info['aigcmatch_import'] = f'failed ({type(err).__name__}: {err})'
info['cpu_count'] = os.cpu_count()
print(json.dumps(info, indent=1))
json.dump(info, open(os.path.join(os.environ['WORK'], 'env.json'), 'w'), indent=1)
EOF
command -v nvidia-smi > /dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv

if [ -z "${DEVICE:-}" ]; then
    if "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)" 2> /dev/null; then
        DEVICE=cuda
    else
        DEVICE=cpu
        TINY=1  # no usable GPU: a dry run at tiny sizes, recorded as such
    fi
fi
if [ "$TINY" = "1" ]; then
    STEP_ARGS=(--batch-size 2 --crop 64 --iters 2 --warmup 1 --data-workers 0 1 --data-batches 2
               --data-patients 1 --memory none)
    METRIC_ARGS=(--num-volumes 4)
    DEMO_ARGS=(--num-patients 100 --size 32 32)
    TRAIN_ITERS=4
    COMPILE_VARIANTS="fp32+compile"
    STEP_VARIANTS="fp32,fp32+cl,bf16+cl"  # fp16 autocast on a CPU is no measurement
    STEP_ARGS+=(--compile-backend aot_eager)  # dynamo tracing without a C++ build
else
    STEP_ARGS=(--batch-size 12 --crop 256 --iters 30 --warmup 5 --data-workers 0 2 4 8
               --data-batches 15 --data-patients 4)
    METRIC_ARGS=()
    DEMO_ARGS=(--num-patients 100)
    TRAIN_ITERS=300
    COMPILE_VARIANTS="bf16+cl,bf16+cl+compile"
    STEP_VARIANTS="fp32,fp32+cl,bf16+cl,fp16+cl"
    STEP_ARGS+=(--profile)
fi

# ---------------------------------------------------------------- 2. training step
stage step 240 "$PY" benchmarks/train_step.py --device "$DEVICE" "${STEP_ARGS[@]}" \
    --variants "$STEP_VARIANTS" --json "$WORK/step.json"

# ---------------------------------------------------------------- 3. metric benchmark
stage metrics 150 "$PY" benchmarks/metrics.py "${METRIC_ARGS[@]}"

# ---------------------------------------------------------------- 4. demo trainings
stage demo_data 150 "$PY" tools/generate_demo_data.py --out "$WORK/demo_acdc" "${DEMO_ARGS[@]}"
TRAIN_OPTS=(data_root="$WORK/demo_acdc" train_cfg.max_iters="$TRAIN_ITERS"
            train_cfg.val_interval="$TRAIN_ITERS" default_hooks.checkpoint.interval="$TRAIN_ITERS")
stage train_slow 200 "$PY" tools/train.py configs/demo/aigcmatch_demo_3case.py \
    --work-dir "$WORK/train_slow" --cfg-options "${TRAIN_OPTS[@]}" model.channels_last=False
if [ "$DEVICE" = "cuda" ]; then
    stage train_fast 200 "$PY" tools/train.py configs/demo/aigcmatch_demo_3case.py \
        --work-dir "$WORK/train_fast" --amp \
        --cfg-options "${TRAIN_OPTS[@]}" model.channels_last=True
else  # AMP needs CUDA in mmengine: channels-last only
    stage train_fast 200 "$PY" tools/train.py configs/demo/aigcmatch_demo_3case.py \
        --work-dir "$WORK/train_fast" --cfg-options "${TRAIN_OPTS[@]}" model.channels_last=True
fi

# ---------------------------------------------------------------- 5. torch.compile
stage compile 200 "$PY" benchmarks/train_step.py --device "$DEVICE" "${STEP_ARGS[@]}" \
    --data-workers --variants "$COMPILE_VARIANTS" --json "$WORK/compile.json"

# ---------------------------------------------------------------- summary
"$PY" benchmarks/gpu_summary.py --work "$WORK" --device "$DEVICE" --tiny "$TINY" \
    --json "$OUT/gpu_results.json"
echo "total seconds: $(( $(date +%s) - T0 ))"
ls -la "$OUT"
