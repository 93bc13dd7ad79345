# Copyright (c) aigcmatch contributors. All rights reserved.
"""Pair the runs of two method benchmarks seed by seed: ``A - B``.

``tools/benchmark_methods.py`` pairs the methods of one invocation. A
switch measured with ``--cfg-options`` or ``--config-dir`` keeps its
method's name and lives in a work root of its own; this tool pairs it with
the default runs of the same seeds, read from each root's ``runs.csv``:

* per dataset: mean ± s.e. of A and of B over the common seeds, the paired
  difference ``A - B`` with its s.e. (sample std / sqrt(n)), the seeds where
  A is ahead, every seed's difference, and ``separated`` when
  ``|mean| > 2 s.e.``, else ``not separated`` (the benchmark's rule);
* the seeds that only one side has (not paired, named).

Each side is ``ROOT[,ROOT...][:METHOD]``: several roots are read as one
(e.g. seeds 0-9 in one, fresh seeds 10-14 in another); METHOD may be left
out when the roots hold one method only.

Example:
    python tools/benchmark_methods.py --methods aigcmatch \\
        --cfg-options model.conf_thresh=0.9 --work-root work_dirs/bm_conf09
    python tools/analysis/paired_runs.py work_dirs/bm_conf09:aigcmatch \\
        work_dirs/benchmark:aigcmatch
"""
import argparse
import csv
import os.path as osp
import sys
from typing import Dict, List, Tuple

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, ROOT)

from projects.aigcmatch.utils import UserError, run_tool  # noqa: E402
from tools.benchmark_methods import (_fmt, _seed_list, mean_se,  # noqa: E402
                                     paired_difference)

#: (dataset, seed) -> value
Runs = Dict[Tuple[str, int], float]


def parse_side(text: str) -> Tuple[List[str], str]:
    """``'r1,r2:method'`` -> ``(['r1', 'r2'], 'method')``; method '' if
    left out."""
    roots, _, method = text.rpartition(':')
    if not roots or osp.isdir(text):  # no ':' (or a folder with one)
        roots, method = text, ''
    return [r for r in roots.split(',') if r], method


def load_side(text: str, metric: str) -> Tuple[str, Runs]:
    """The method's name and its ``metric`` per (dataset, seed)."""
    roots, method = parse_side(text)
    rows = []
    for root in roots:
        path = osp.join(root, 'runs.csv')
        if not osp.isfile(path):
            raise UserError(
                f'{text}: {path} not found (a work root of '
                'tools/benchmark_methods.py holds runs.csv once it finishes)')
        with open(path, newline='') as f:
            for row in csv.DictReader(f):
                rows.append((path, row))
    if not rows:
        raise UserError(f'{text}: no runs in {", ".join(roots)}')
    methods = sorted({row['method'] for _, row in rows})
    if not method:
        if len(methods) > 1:
            raise UserError(
                f'{text}: the runs hold several methods ({", ".join(methods)})'
                f'; name one, e.g. {roots[0]}:{methods[0]}')
        method = methods[0]
    elif method not in methods:
        raise UserError(f'{text}: no run of method {method!r} (the runs '
                        f'hold {", ".join(methods)})')
    runs, source = {}, {}
    for path, row in rows:
        if row['method'] != method:
            continue
        if metric not in row:
            raise UserError(f'{path} has no column {metric!r} (columns: '
                            f'{", ".join(row)})')
        if row[metric] == '':
            continue  # a class of the other dataset
        key = (row['dataset'], int(row['seed']))
        value = float(row[metric])
        if key in runs and runs[key] != value:
            raise UserError(
                f'{text}: {key[0]} seed {key[1]} of {method} is in both '
                f'{source[key]} ({runs[key]:.2f}) and {path} ({value:.2f}); '
                'pass the roots whose runs you mean')
        runs[key], source[key] = value, path
    return method, runs


def compare(a: Tuple[str, Runs], b: Tuple[str, Runs], metric: str,
            seeds=None) -> str:
    """The markdown report of ``A - B`` per dataset."""
    (name_a, runs_a), (name_b, runs_b) = a, b
    if name_a == name_b:
        name_a, name_b = f'{name_a} (A)', f'{name_b} (B)'
    lines = []
    datasets = dict.fromkeys(d for d, _ in [*runs_a, *runs_b])
    for dataset in datasets:

        def per_seed(runs):
            return {s: v for (d, s), v in runs.items()
                    if d == dataset and (seeds is None or s in seeds)}

        va, vb = per_seed(runs_a), per_seed(runs_b)
        lines += [f'### {dataset}: {metric}, A = {name_a}, B = {name_b}', '']
        diff = paired_difference(va, vb)
        if diff is None:
            lines += ['no seed run by both sides', '']
            continue
        common = diff['seeds']
        verdict = 'separated' if diff['separated'] else 'not separated'
        lines += [
            '| seeds | A | B | A − B | A wins | per seed | verdict |',
            '| --- | --- | --- | --- | --- | --- | --- |',
            f'| {",".join(map(str, common))} '
            f'| {_fmt(*mean_se(va[s] for s in common))} '
            f'| {_fmt(*mean_se(vb[s] for s in common))} '
            f'| **{_fmt(diff["mean"], diff["se"])}** '
            f'| {diff["wins"]}/{len(common)} | '
            + ', '.join(f'{x:+.1f}' for x in diff['per_seed']) +
            f' | {verdict} |', ''
        ]
        for name, only in ((name_a, set(va) - set(vb)),
                           (name_b, set(vb) - set(va))):
            if only:
                lines += [f'not paired: seeds {sorted(only)} of {name} '
                          'only', '']
    return '\n'.join(lines)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Pair the runs of two method benchmarks seed by seed.')
    parser.add_argument('a', help='ROOT[,ROOT...][:METHOD] of side A')
    parser.add_argument('b', help='ROOT[,ROOT...][:METHOD] of side B')
    parser.add_argument('--metric', default='test_mDice',
                        help='a column of runs.csv (default test_mDice; '
                        'e.g. test_Dice_LV, val_mDice)')
    parser.add_argument('--seeds', type=_seed_list,
                        help='comma-separated; default: every common seed')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    a = load_side(args.a, args.metric)
    b = load_side(args.b, args.metric)
    print(compare(a, b, args.metric, args.seeds))


if __name__ == '__main__':
    run_tool(main)
