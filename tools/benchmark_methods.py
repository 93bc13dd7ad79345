# Copyright (c) aigcmatch contributors. All rights reserved.
"""Rank the methods: paired seeds on a synthetic and a real labelled set.

Trains every method of ``configs/benchmark/<dataset>/<method>.py`` for every
seed (``tools/train.py``; the checkpoint with the best val mDice is kept),
evaluates that checkpoint on the test split (``tools/test.py``), and prints
per dataset:

* per method: test mDice (%) and per-class Dice, mean ± s.e. over seeds
  (s.e. = sample std / sqrt(n));
* paired differences ``A - B`` over the same seeds (same seed = same
  initial weights, data order and augmentations), with their s.e. and
  ``separated`` when ``|mean| > 2 s.e.``, else ``not separated``.

It also writes ``WORK_ROOT/runs.csv`` (one row per run), ``differences.csv``
and ``summary.md``. Runs that finished earlier are reused (a killed benchmark
continues where it stopped); delete a run's folder to redo it. The data are
made on first use: the synthetic set with ``tools/generate_demo_data.py``,
the real one (Colin27 T1 MRI + AAL atlas, from Debian's ``mricron-data``)
with ``tools/dataset_converters/colin27_aal_to_h5.py``. docs/benchmark.md
gives the settings, why, and the measured tables.

Examples:
    python tools/benchmark_methods.py                       # 3 methods, 5 seeds
    python tools/benchmark_methods.py \
        --methods aigcmatch,attcutmix_randomfp,randomcutmix_attfp  # ablations
    python tools/benchmark_methods.py --datasets colin27_aal --seeds 0,1,2 \\
        --methods supbaseline,unimatch --compare unimatch-supbaseline
    python tools/benchmark_methods.py --cfg-options model.conf_thresh=0.9 \\
        --work-root work_dirs/benchmark_conf09
"""
import argparse
import csv
import json
import math
import os
import os.path as osp
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Optional, Sequence, Tuple

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, ROOT)

from projects.aigcmatch.utils import UserError, run_tool  # noqa: E402
from tools.sweep import _seed_list, run_one  # noqa: E402

CONFIG_DIR = osp.join(ROOT, 'configs', 'benchmark')
DATASETS = ('synthetic', 'colin27_aal')
#: The default run: the three methods on one network (the plain UNet).
METHODS = ('supbaseline', 'unimatch', 'aigcmatch')
#: Further configs of configs/benchmark/<dataset>/ for --methods: AIGCMatch
#: with one or both guided components replaced by the random twin, the CBAM
#: head reading of the paper and its supervised reference, AIGCMatch with
#: class-adaptive confidence thresholds, UniMatch with them.
ABLATIONS = ('attcutmix_randomfp', 'randomcutmix_attfp', 'randomcutmix_randomfp',
             'aigcmatch_cbam', 'supbaseline_att', 'aigcmatch_classthresh',
             'unimatch_classthresh')
#: A - B pairs, shown when both were run: each method against SupBaseline,
#: AIGCMatch against UniMatch, each attention-guided component against its
#: random twin (the other component kept), both against both random.
COMPARISONS = (('unimatch', 'supbaseline'), ('aigcmatch', 'supbaseline'),
               ('aigcmatch', 'unimatch'), ('aigcmatch', 'randomcutmix_attfp'),
               ('aigcmatch', 'attcutmix_randomfp'),
               ('aigcmatch', 'randomcutmix_randomfp'),
               ('aigcmatch_cbam', 'supbaseline_att'),
               ('supbaseline_att', 'supbaseline'),
               ('aigcmatch_classthresh', 'aigcmatch'),
               ('unimatch_classthresh', 'unimatch'))
DATA = dict(
    synthetic=dict(
        root='data/demo_acdc',
        stamp='data/demo_acdc/.aigcmatch-demo-complete',
        make=['tools/generate_demo_data.py', '--out', 'data/demo_acdc']),
    colin27_aal=dict(
        root='data/colin27_aal',
        stamp='data/colin27_aal/splits/test.txt',
        make=[
            'tools/dataset_converters/colin27_aal_to_h5.py', '--out',
            'data/colin27_aal'
        ]))


def _csv_list(text: str) -> List[str]:
    return [t.strip() for t in text.split(',') if t.strip()]


def _pair(text: str) -> Tuple[str, str]:
    a, sep, b = text.partition('-')
    if not sep or not a or not b:
        raise argparse.ArgumentTypeError(
            f'--compare takes A-B method pairs, got {text!r}')
    return a, b


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog='\n'.join(__doc__.splitlines()[1:]))
    parser.add_argument(
        '--datasets', type=_csv_list, default=list(DATASETS),
        help=f'comma-separated, of {",".join(DATASETS)} (folders of '
        'configs/benchmark)')
    parser.add_argument(
        '--methods', type=_csv_list, default=list(METHODS),
        help='comma-separated config names of CONFIG_DIR/<dataset>/ '
        f'(default {",".join(METHODS)}; ablations: {",".join(ABLATIONS)})')
    parser.add_argument(
        '--config-dir', default=CONFIG_DIR,
        help='folder with one sub-folder of method configs per dataset '
        '(default: configs/benchmark); configs of your own may build on '
        "ours, e.g. _base_ = ['<repo>/configs/benchmark/synthetic/"
        "aigcmatch.py'] plus the changes")
    parser.add_argument('--seeds', type=_seed_list, default=[0, 1, 2, 3, 4],
                        help='comma-separated (default 0,1,2,3,4)')
    parser.add_argument(
        '--compare', type=_pair, nargs='+',
        help='A-B pairs of methods (default: each method against '
        'SupBaseline, AIGCMatch against UniMatch and against each '
        'ablation; only pairs whose methods were run)')
    parser.add_argument('--jobs', type=int, default=2,
                        help='runs at a time (default 2, for 2 cores)')
    parser.add_argument(
        '--threads', type=int, default=1,
        help='threads per run (default 1: at crop 64 one thread is fastest '
        'whenever the other cores are busy)')
    parser.add_argument('--work-root', default='work_dirs/benchmark')
    parser.add_argument(
        '--data', nargs='+', default=[], metavar='DATASET=PATH',
        help='use data already at PATH for DATASET (passed as data_root), '
        'e.g. colin27_aal=/data/colin27_aal; by default each set is made in '
        f'its folder ({", ".join(d["root"] for d in DATA.values())}) on '
        'first use')
    parser.add_argument(
        '--cfg-options', nargs='+', default=[], metavar='KEY=VALUE',
        help='applied to every run, e.g. model.conf_thresh=0.9 (use another '
        '--work-root: finished runs are reused by name)')
    return parser.parse_args(argv)


# ---------------------------------------------------------------------- #
# statistics
# ---------------------------------------------------------------------- #
def mean_se(values: Sequence[float]) -> Tuple[float, Optional[float]]:
    """Mean and standard error (sample std / sqrt(n)); s.e. None if n < 2."""
    values = list(values)
    if not values:
        return math.nan, None
    if len(values) < 2:
        return values[0], None
    return (statistics.mean(values),
            statistics.stdev(values) / math.sqrt(len(values)))


def paired_difference(a: Dict[int, float],
                      b: Dict[int, float]) -> Optional[dict]:
    """``a - b`` over the seeds both have.

    Args:
        a (dict[int, float]): Seed -> value of method A.
        b (dict[int, float]): Seed -> value of method B.

    Returns:
        dict | None: ``mean``, ``se`` (None for one seed), ``seeds``,
        ``per_seed`` differences, ``wins`` (seeds where A > B) and
        ``separated`` (``|mean| > 2 se``); None if no common seed.
    """
    seeds = sorted(set(a) & set(b))
    if not seeds:
        return None
    diffs = [a[s] - b[s] for s in seeds]
    mean, se = mean_se(diffs)
    return dict(
        mean=mean,
        se=se,
        seeds=seeds,
        per_seed=diffs,
        wins=sum(d > 0 for d in diffs),
        separated=se is not None and abs(mean) > 2 * se)


def _fmt(mean: float, se: Optional[float]) -> str:
    if math.isnan(mean):
        return 'n/a'
    return f'{mean:.2f}' if se is None else f'{mean:.2f} ± {se:.2f}'


# ---------------------------------------------------------------------- #
# runs
# ---------------------------------------------------------------------- #
def ensure_data(dataset: str) -> None:
    """Make the dataset on first use (never overwrites existing data)."""
    spec = DATA.get(dataset)
    if spec is None or osp.exists(osp.join(ROOT, spec['stamp'])):
        return
    if osp.exists(osp.join(ROOT, spec['root'])):
        raise UserError(
            f"{spec['root']} exists but is incomplete (no {spec['stamp']}); "
            f"move it away, or finish it with: python {' '.join(spec['make'])}"
            ' --overwrite')
    print(f'[benchmark] making the {dataset} data set: '
          f"python {' '.join(spec['make'])}", flush=True)
    subprocess.run([sys.executable] + spec['make'], cwd=ROOT, check=True)
    if dataset == 'synthetic':  # the demo's completion stamp
        open(osp.join(ROOT, spec['stamp']), 'w').close()


def _best_val(work_dir: str) -> Tuple[Optional[float], Optional[int]]:
    """Best val mDice and its iteration, from the run's scalars log."""
    best = (None, None)
    for dirpath, _, files in os.walk(work_dir):
        if 'scalars.json' not in files:
            continue
        with open(osp.join(dirpath, 'scalars.json')) as f:
            for line in f:
                entry = json.loads(line)
                if 'mDice' in entry and 'loss' not in entry and (
                        best[0] is None or entry['mDice'] > best[0]):
                    best = (entry['mDice'], entry.get('step'))
    return best


def run_jobs(args, data_roots: Dict[str, str]) -> List[dict]:
    jobs = []
    for seed in args.seeds:  # seed outermost: partial results stay paired
        for dataset in args.datasets:
            for method in args.methods:
                config = osp.join(args.config_dir, dataset, f'{method}.py')
                jobs.append((dataset, method, seed, config))
    missing = sorted({j[3] for j in jobs if not osp.isfile(j[3])})
    if missing:
        raise UserError(f'no benchmark config {missing[0]}; expected a '
                        'config per method and dataset (shipped: '
                        f'{", ".join(METHODS)} for each of '
                        f'{", ".join(DATASETS)})')
    env = {'OMP_NUM_THREADS': str(args.threads)}

    def one(job):
        dataset, method, seed, config = job
        options = list(args.cfg_options)
        if dataset in data_roots:
            options.append(f'data_root={data_roots[dataset]}')
        run = dict(name=method, config=config, options=options)
        root = osp.join(args.work_root, dataset)
        _, _, summary, seconds = run_one(run, seed, root, env)
        work_dir = osp.join(root, f'{method}_seed{seed}')
        val, val_iter = _best_val(work_dir)
        row = dict(
            dataset=dataset,
            method=method,
            seed=seed,
            test_mDice=summary['metrics']['mDice'],
            val_mDice=val,
            best_iter=val_iter,
            seconds=round(seconds, 1),
            work_dir=work_dir)
        for cls, values in summary['per_class'].items():
            row[f'test_Dice_{cls}'] = values['Dice']
        print(f'[benchmark] {dataset} {method} seed {seed}: test mDice '
              f"{row['test_mDice']:.2f} (val {val if val is None else round(val, 2)}"
              f' at {val_iter}; {seconds:.0f} s)', flush=True)
        return row

    with ThreadPoolExecutor(args.jobs) as pool:
        return list(pool.map(one, jobs))


# ---------------------------------------------------------------------- #
# report
# ---------------------------------------------------------------------- #
def report(rows: List[dict], comparisons, seeds) -> Tuple[str, List[dict]]:
    """The markdown tables and the difference rows."""
    lines, diff_rows = [], []
    for dataset in dict.fromkeys(r['dataset'] for r in rows):
        sub = [r for r in rows if r['dataset'] == dataset]
        classes = [k[len('test_Dice_'):] for k in sub[0]
                   if k.startswith('test_Dice_')]
        methods = list(dict.fromkeys(r['method'] for r in sub))
        value = {m: {r['seed']: r['test_mDice'] for r in sub
                     if r['method'] == m} for m in methods}
        lines += [
            f'### {dataset}: test Dice (%), checkpoint selected on val; '
            f'mean ± s.e. over seeds {seeds}', '',
            '| method | ' + ' | '.join(classes) + ' | mDice | per seed |',
            '| --- |' + ' --- |' * (len(classes) + 2)
        ]
        for m in methods:
            mrows = [r for r in sub if r['method'] == m]
            cells = [_fmt(*mean_se([r[f'test_Dice_{c}'] for r in mrows]))
                     for c in classes]
            per_seed = ', '.join(f"{r['test_mDice']:.1f}" for r in mrows)
            lines.append(f'| {m} | ' + ' | '.join(cells) +
                         f' | **{_fmt(*mean_se(value[m].values()))}** | '
                         f'{per_seed} |')
        lines += ['', '| difference (paired) | mean ± s.e. | A wins | '
                  'per seed | verdict |', '| --- | --- | --- | --- | --- |']
        for a, b in comparisons:
            if a not in value or b not in value:
                continue
            d = paired_difference(value[a], value[b])
            if d is None:
                continue
            verdict = ('separated' if d['separated'] else 'not separated')
            lines.append(
                f'| {a} − {b} | {_fmt(d["mean"], d["se"])} | '
                f'{d["wins"]}/{len(d["seeds"])} | '
                + ', '.join(f'{x:+.1f}' for x in d['per_seed']) +
                f' | {verdict} |')
            diff_rows.append(
                dict(dataset=dataset, a=a, b=b, mean=d['mean'], se=d['se'],
                     seeds=len(d['seeds']), wins=d['wins'],
                     separated=d['separated']))
        lines.append('')
    return '\n'.join(lines), diff_rows


DIFFERENCE_FIELDS = ('dataset', 'a', 'b', 'mean', 'se', 'seeds', 'wins',
                     'separated')


def _write_csv(path: str, rows: List[dict], fields=()) -> None:
    fields = list(dict.fromkeys([*fields, *(k for r in rows for k in r)]))
    with open(path, 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def main(argv=None) -> None:
    args = parse_args(argv)
    unknown = set(args.datasets) - set(DATASETS)
    if unknown:
        raise UserError(f'--datasets: unknown {sorted(unknown)}; expected '
                        f'some of {", ".join(DATASETS)}')
    if args.jobs < 1 or args.threads < 1:
        raise UserError(f'--jobs and --threads must be >= 1, got '
                        f'{args.jobs} and {args.threads}')
    comparisons = args.compare or [
        c for c in COMPARISONS if set(c) <= set(args.methods)
    ]
    data_roots = {}
    for item in args.data:
        name, sep, path = item.partition('=')
        if not sep or name not in DATASETS:
            raise UserError(f'--data takes DATASET=PATH with DATASET one of '
                            f'{", ".join(DATASETS)}, got {item!r}')
        if not osp.isdir(path):
            raise UserError(f'--data {item}: {path} is not a folder')
        data_roots[name] = osp.abspath(path)
    start = time.time()
    for dataset in args.datasets:
        if dataset not in data_roots:
            ensure_data(dataset)
    rows = run_jobs(args, data_roots)
    text, diffs = report(rows, comparisons, args.seeds)
    minutes = (time.time() - start) / 60
    text += (f'\n{len(rows)} runs, {args.jobs} at a time, in {minutes:.1f} '
             f'min ({os.cpu_count()} cores).\n')
    print('\n' + text)
    os.makedirs(args.work_root, exist_ok=True)
    _write_csv(osp.join(args.work_root, 'runs.csv'), rows)
    _write_csv(osp.join(args.work_root, 'differences.csv'), diffs,
               DIFFERENCE_FIELDS)
    with open(osp.join(args.work_root, 'summary.md'), 'w') as f:
        f.write(text)


if __name__ == '__main__':
    run_tool(main)
