#!/usr/bin/env bash
# README command 1: the whole job end to end on a fresh machine, on the CPU.
#   1. set up the Python environment (once; reused afterwards)
#   2. generate the synthetic ACDC-like demo set into data/demo_acdc (once)
#   3. train AIGCMatch with 3 labeled patients (configs/demo/aigcmatch_demo_3case.py)
#   4. evaluate the best checkpoint (selected on val) on the test split and print the per-class table
# Every run trains into a new folder work_dirs/demo/<time>/; nothing earlier is overwritten.
# Extra arguments go to tools/train.py, e.g. `bash tools/demo.sh --cfg-options train_cfg.max_iters=100`.
# DEMO_CONFIG=configs/demo/supbaseline_demo_3case.py runs the supervised baseline instead.
set -eo pipefail
cd "$(dirname "$0")/.."
. tools/env.sh

CONFIG=${DEMO_CONFIG:-configs/demo/aigcmatch_demo_3case.py}
DATA=data/demo_acdc
STAMP="$DATA/.aigcmatch-demo-complete"
if [ ! -f "$STAMP" ]; then
    if [ -e "$DATA" ] && [ -n "$(ls -A "$DATA" 2>/dev/null)" ]; then
        echo "error: $DATA exists but was not written (completely) by this demo; move it away and rerun" >&2
        exit 2
    fi
    echo "[demo] generating the synthetic ACDC-like set in $DATA"
    python tools/generate_demo_data.py --out "$DATA"
    touch "$STAMP"
fi

NAME=$(basename "$CONFIG" .py)
WORK="work_dirs/demo/$(date +%Y%m%d_%H%M%S)_${NAME}"
echo "[demo] training $CONFIG into $WORK (CPU; progress every 20 iterations)"
python tools/train.py "$CONFIG" --work-dir "$WORK" "$@"

CKPT=$(ls -t "$WORK"/best_mDice_iter_*.pth 2>/dev/null | head -n 1)
if [ -z "$CKPT" ]; then
    CKPT=$(cat "$WORK/last_checkpoint")
fi
echo "[demo] evaluating $CKPT on the test split"
python tools/test.py "$CONFIG" "$CKPT" --work-dir "$WORK" --out "$WORK/test_results" \
    > "$WORK/test_output.log" 2>&1 || { tail -n 30 "$WORK/test_output.log" >&2; exit 1; }

python - "$WORK/test_results/metrics_summary.json" "$CKPT" <<'PY'
import json, sys
summary = json.load(open(sys.argv[1]))
p, m = summary['protocol'], summary['metrics']
unit = 'vox' if p['distance_unit'] == 'voxel' else 'mm'
print()
print(f"Checkpoint {sys.argv[2]} (best mDice on val), evaluated on split '{p['split']}' "
      f"({p['num_cases']} volumes); {p['averaging']}.")
rows = [(name, v) for name, v in summary['per_class'].items()]
header = f"{'class':<6} {'Dice %':>8} {'Jaccard %':>10} {'HD95 ' + unit:>10} {'ASD ' + unit:>10}"
print(header)
print('-' * len(header))
fmt = lambda x: 'n/a' if x is None else f'{x:.2f}'
for name, v in rows:
    print(f"{name:<6} {fmt(v['Dice']):>8} {fmt(v['Jaccard']):>10} {fmt(v['HD95']):>10} {fmt(v['ASD']):>10}")
print(f"{'mean':<6} {fmt(m['mDice']):>8} {fmt(m['mJaccard']):>10} {fmt(m['mHD95']):>10} {fmt(m['mASD']):>10}")
print(f"\nper-case results: {sys.argv[1].rsplit('/', 1)[0]}/per_case_metrics.csv")
PY
