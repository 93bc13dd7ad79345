"""Gather what ``benchmarks/gpu.sh`` measured into one JSON and check the
speed goals (benchmarks/README.md): step time reference / ours >= 1.5, peak
GPU memory at batch 12 + 12, 256x256 <= 6 GiB, projected 30k iterations
<= 1 hour, and the demo Dice of the fast path not below the slow path's.

Usage (gpu.sh calls it)::

    python benchmarks/gpu_summary.py --work /tmp/aigcmatch_gpu_work \\
        --device cuda --tiny 0 --json gpu_results/gpu_results.json
"""
import argparse
import glob
import json
import os
import os.path as osp
import re
from typing import Optional

GOAL_SPEEDUP = 1.5
GOAL_MEMORY_MIB = 6 * 1024
GOAL_HOURS_30K = 1.0
FAST, DEFAULT = 'ours[bf16+cl]', 'ours[fp32+cl]'


def _load_json(path: str) -> Optional[dict]:
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def training_summary(work_dir: str) -> Optional[dict]:
    """Last val mDice and mean logged iteration time of one training."""
    files = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                      'scalars.json')))
    if not files:
        return None
    train, val = [], []
    with open(files[-1]) as f:
        for line in f:
            try:
                row = json.loads(line)
            except ValueError:
                continue
            (val if 'mDice' in row else train).append(row)
    times = [r['time'] for r in train if 'time' in r][1:]  # skip warm-up
    data_times = [r['data_time'] for r in train if 'data_time' in r][1:]
    out = dict(logged_iters=[r.get('iter', r.get('step')) for r in train])
    if times:
        out['mean_iter_s'] = sum(times) / len(times)
    if data_times:
        out['mean_data_s'] = sum(data_times) / len(data_times)
    if val:
        last = val[-1]
        out['val'] = {
            k: v
            for k, v in last.items() if k.startswith(('mDice', 'Dice', 'mHD'))
        }
        out['mDice'] = last.get('mDice')
    return out


def metrics_summary(log: str) -> dict:
    out = {}
    for key, pattern in (('medpy_s', r'medpy loop\s*:\s*([\d.]+)'),
                         ('ours_s', r'MedicalMetric\s*:\s*([\d.]+)'),
                         ('speedup', r'speed-up\s*:\s*([\d.]+)')):
        found = re.search(pattern, log)
        if found:
            out[key] = float(found.group(1))
    out['values_equal'] = 'values equal' in log and 'MISMATCH' not in log
    return out


def check_goals(step: Optional[dict], training: dict) -> dict:
    goals = {}
    rows = {r['name']: r for r in (step or {}).get('results', [])}
    for name in (DEFAULT, FAST):
        row = rows.get(name)
        if row is None:
            continue
        speed = row.get('speedup_vs_reference')
        goals[f'speedup {name} >= {GOAL_SPEEDUP}'] = dict(
            value=speed, ok=speed is not None and speed >= GOAL_SPEEDUP)
        mem = row.get('memory', {})
        if mem.get('kind') == 'cuda_max_allocated':
            goals[f'peak GPU memory {name} <= 6 GiB'] = dict(
                value_mib=mem['peak_mib'],
                ok=mem['peak_mib'] <= GOAL_MEMORY_MIB)
        hours = row.get('projected_30k_hours')
        if hours is not None:
            goals[f'projected 30k iterations {name} <= 1 h (steps)'] = dict(
                value=hours, ok=hours <= GOAL_HOURS_30K)
    slow, fast = training.get('train_slow'), training.get('train_fast')
    if slow and fast and slow.get('mDice') is not None and \
            fast.get('mDice') is not None:
        goals['demo mDice fast >= slow - 1 point (same seed)'] = dict(
            slow=slow['mDice'],
            fast=fast['mDice'],
            ok=fast['mDice'] >= slow['mDice'] - 1.0)
    return goals


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work', required=True)
    parser.add_argument('--device', default='cuda')
    parser.add_argument('--tiny', default='0')
    parser.add_argument('--json', required=True)
    args = parser.parse_args(argv)

    stages = []
    try:
        with open(osp.join(args.work, 'stages.jsonl')) as f:
            stages = [json.loads(line) for line in f if line.strip()]
    except (OSError, ValueError):
        pass
    logs = {}
    for path in glob.glob(osp.join(args.work, 'logs', '*.log')):
        with open(path, errors='replace') as f:
            logs[osp.splitext(osp.basename(path))[0]] = f.read()
    training = {
        name: training_summary(osp.join(args.work, name))
        for name in ('train_slow', 'train_fast')
    }
    step = _load_json(osp.join(args.work, 'step.json'))
    result = dict(
        device=args.device,
        tiny=args.tiny == '1',
        env=_load_json(osp.join(args.work, 'env.json')),
        stages=stages,
        step=step,
        compile=_load_json(osp.join(args.work, 'compile.json')),
        metrics=metrics_summary(logs.get('metrics', '')),
        training=training,
        goals=check_goals(step, training))
    os.makedirs(osp.dirname(osp.abspath(args.json)), exist_ok=True)
    with open(args.json, 'w') as f:
        json.dump(result, f, indent=1, default=str)

    print('==== summary')
    for s in stages:
        print(f"stage {s['stage']:11s} rc={s.get('rc')} "
              f"{s.get('seconds', 0):.0f} s"
              f"{' TIMED OUT' if s.get('timed_out') else ''}"
              f"{' skipped: ' + s['skipped'] if s.get('skipped') else ''}")
    for block in (step, result['compile']):
        for r in (block or {}).get('results', []):
            mem = r.get('memory', {})
            saved = r.get('saved_for_backward', {})
            print(f"{r['name']:26s} {r['median_ms']:8.1f} ms  "
                  f"{r['images_per_s']:7.1f} img/s  "
                  f"peak {mem.get('peak_mib', float('nan')):7.0f} MiB  "
                  f"saved {saved.get('saved_mib', float('nan')):6.0f} MiB  "
                  f"x{r.get('speedup_vs_reference', float('nan')):.2f}")
    for name, t in training.items():
        if t:
            print(f"{name}: mDice {t.get('mDice')}  "
                  f"{t.get('mean_iter_s', float('nan')):.4f} s/iter")
    print(f"metrics: {result['metrics']}")
    for goal, value in result['goals'].items():
        print(f"goal {'OK  ' if value.get('ok') else 'MISS'} {goal}: "
              f"{ {k: v for k, v in value.items() if k != 'ok'} }")
    return result


if __name__ == '__main__':
    main()
