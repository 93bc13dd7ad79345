# Copyright (c) aigcmatch contributors. All rights reserved.
"""Train and test several runs side by side and print one table.

Each run is ``NAME=CONFIG [key=value ...]`` (the key=values go to
``--cfg-options``); every run is trained with ``tools/train.py``, its best
checkpoint (selected on val) evaluated with ``tools/test.py`` on the config's
test split, and the per-class Dice of all runs printed as a Markdown table
(also written to ``WORK_ROOT/summary.md`` and ``summary.json``).

Example (the comparison in docs/design_decisions.md):
    python tools/sweep.py --work-root work_dirs/sweep --jobs 4 --seeds 0,1 \\
        default=configs/demo/aigcmatch_demo_3case.py \\
        protect=configs/demo/aigcmatch_demo_3case.py \\
            model.feature_perturbation.p_strong=0.3 \\
            model.feature_perturbation.p_weak=0.7
"""
import argparse
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def parse_runs(tokens):
    runs, current = [], None
    for token in tokens:
        name, sep, value = token.partition('=')
        if sep and value.endswith('.py') and '.' not in name:
            current = dict(name=name, config=value, options=[])
            runs.append(current)
        elif current is None:
            raise SystemExit(f'error: "{token}" comes before any NAME=CONFIG')
        else:
            current['options'].append(token)
    names = [r['name'] for r in runs]
    if len(set(names)) != len(names):
        raise SystemExit(f'error: run names repeat: {names}')
    return runs


def run_one(run, seed, work_root, extra_env):
    work_dir = osp.join(work_root, f"{run['name']}_seed{seed}")
    summary = osp.join(work_dir, 'test_results', 'metrics_summary.json')
    if osp.isfile(summary):  # finished earlier: reuse, never retrain
        return run['name'], seed, json.load(open(summary)), 0.0
    os.makedirs(work_dir, exist_ok=True)
    log = open(osp.join(work_dir, 'sweep.log'), 'a')
    env = dict(os.environ, **extra_env)
    env['PYTHONPATH'] = ROOT + os.pathsep + env.get('PYTHONPATH', '')
    options = run['options'] + [f'randomness.seed={seed}']
    start = time.time()
    resume = ['--resume'] if osp.exists(osp.join(work_dir,
                                                  'last_checkpoint')) else []
    subprocess.run([
        sys.executable, osp.join(ROOT, 'tools', 'train.py'), run['config'],
        '--work-dir', work_dir, *resume, '--cfg-options', *options
    ], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env, check=True)
    ckpts = sorted(
        f for f in os.listdir(work_dir) if f.startswith('best_mDice'))
    ckpt = osp.join(work_dir, ckpts[-1]) if ckpts else open(
        osp.join(work_dir, 'last_checkpoint')).read().strip()
    subprocess.run([
        sys.executable, osp.join(ROOT, 'tools', 'test.py'), run['config'],
        ckpt, '--work-dir', work_dir, '--out',
        osp.join(work_dir, 'test_results'), '--overwrite',
        *(['--cfg-options', *run['options']] if run['options'] else [])
    ], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env, check=True)
    return run['name'], seed, json.load(open(summary)), time.time() - start


def _seed_list(text):
    try:
        seeds = [int(s) for s in text.split(',') if s.strip() != '']
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'--seeds takes comma-separated integers, e.g. 0,1; got {text!r}')
    if not seeds or len(set(seeds)) != len(seeds):
        raise argparse.ArgumentTypeError(
            f'--seeds takes distinct integers, e.g. 0,1; got {text!r}')
    return seeds


def fmt(values):
    values = [v for v in values if v is not None]
    if not values:
        return 'n/a'
    if len(values) == 1:
        return f'{values[0]:.2f}'
    return f'{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}'


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('runs', nargs='+', help='NAME=CONFIG [key=value ...]')
    parser.add_argument('--work-root', default='work_dirs/sweep')
    parser.add_argument('--seeds', type=_seed_list, default=[0],
                        help='comma-separated, e.g. 0,1,2')
    parser.add_argument('--jobs', type=int, default=1,
                        help='runs trained at the same time')
    args = parser.parse_args(argv)
    runs = parse_runs(args.runs)
    cores = os.cpu_count() or 1
    env = {'OMP_NUM_THREADS': str(max(1, cores // args.jobs))}
    jobs = [(r, s) for r in runs for s in args.seeds]
    results = {}
    with ThreadPoolExecutor(args.jobs) as pool:
        futures = [
            pool.submit(run_one, r, s, args.work_root, env) for r, s in jobs
        ]
        for future in futures:
            name, seed, summary, seconds = future.result()
            results[(name, seed)] = summary
            print(f'[sweep] {name} seed {seed}: mDice '
                  f"{summary['metrics']['mDice']:.2f} ({seconds:.0f} s)",
                  flush=True)
    protocol = next(iter(results.values()))['protocol']
    classes = protocol['classes']
    lines = [
        f"Dice (%) on split '{protocol['split']}' ({protocol['num_cases']} "
        f"volumes), best checkpoint on val; seeds {args.seeds} (mean ± std)",
        '',
        '| run | ' + ' | '.join(classes) + ' | mean | options |',
        '| --- | ' + ' | '.join('---' for _ in classes) + ' | --- | --- |',
    ]
    for run in runs:
        rows = [results[(run['name'], s)] for s in args.seeds]
        cells = [fmt([r['per_class'][c]['Dice'] for r in rows])
                 for c in classes]
        mean = fmt([r['metrics']['mDice'] for r in rows])
        opts = ' '.join(run['options']) or '(config as is)'
        lines.append(f"| {run['name']} | " + ' | '.join(cells) +
                     f' | {mean} | `{osp.basename(run["config"])}` {opts} |')
    text = '\n'.join(lines)
    print(text)
    os.makedirs(args.work_root, exist_ok=True)
    with open(osp.join(args.work_root, 'summary.md'), 'w') as f:
        f.write(text + '\n')
    with open(osp.join(args.work_root, 'summary.json'), 'w') as f:
        json.dump({f'{n}_seed{s}': r for (n, s), r in results.items()}, f,
                  indent=1)


if __name__ == '__main__':
    main()
