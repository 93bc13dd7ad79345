# Copyright (c) aigcmatch contributors. All rights reserved.
"""Collect test results of several runs into the paper's table (mean ± std).

Every ``metrics_summary.json`` (written by ``MedicalMetric`` /
``tools/test.py --out``) found anywhere under the given work dirs is one
run's result. Per run:

* method and labeled-case count come from the config name,
  ``<method>_<dataset>_<N>case[...]`` (the config dump ``<name>.py`` in the
  run's work dir, else the work dir's name; ``method``/``labeled_cases``
  keys in the JSON win), with the dumped ``train_dataloader.dataset.split``
  (``labeled_<N>case``) as fallback;
* the seed comes from the dumped ``randomness.seed``, else ``seed<k>`` in the
  work dir's name (a ``seed`` key in the JSON wins);
* the run's work dir is the nearest folder above the JSON that holds a config
  dump (``*.py``); if one run has several JSONs of the same protocol, the
  newest is used.

Cells are mean ± sample std (n - 1) over seeds. The evaluation protocol of
each JSON (split, number of volumes, classes, distance unit, conventions)
goes into the header; runs of different protocols in one cell are refused,
unless ``--flag-mixed`` (then the cell is marked). ``--split`` keeps one
split only.

Example:
    python tools/analysis/results_table.py work_dirs/ --out results/
    python tools/analysis/results_table.py work_dirs/a* work_dirs/u* \\
        --metric Dice_LV
"""
import argparse
import csv
import glob
import json
import math
import os
import os.path as osp
import re
import statistics
import sys
from collections import OrderedDict
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

sys.path.insert(0,
                osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from projects.aigcmatch.utils import run_tool  # noqa: E402

SUMMARY_NAME = 'metrics_summary.json'
_CONFIG_NAME = re.compile(
    r'^(?P<method>.+?)_(?P<dataset>[A-Za-z0-9]+)_(?P<cases>\d+)case')
# work dirs made by tools/demo.sh start with the time: 20250101_120000_<name>
_TIME_PREFIX = re.compile(r'^\d{8}_\d{6}_')
_SEED_IN_NAME = re.compile(r'seed[_-]?(?P<seed>\d+)', re.I)
_LABELED_SPLIT = re.compile(r'(?P<cases>\d+)case')
# The paper's row order; other methods follow alphabetically.
_METHOD_ORDER = ('supbaseline', 'fixmatch', 'unimatch', 'aigcmatch')
_PROTOCOL_FIELDS = (('split', 'split'), ('num_cases', 'volumes'),
                    ('classes', 'classes'), ('distance_unit', 'distances in'),
                    ('averaging', 'averaging'),
                    ('one_side_empty', 'one side empty'), ('both_empty',
                                                           'both empty'))


@dataclass
class RunResult:
    """One run's value of the metric."""
    method: str
    dataset: str
    cases: int
    seed: Optional[int]
    value: float
    protocol: dict
    json_path: str
    run_dir: str


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Collect metrics_summary.json of several runs into the '
        "paper's table (mean ± std over seeds), Markdown and CSV")
    parser.add_argument('work_dirs', nargs='+', metavar='WORK_DIR')
    parser.add_argument(
        '--metric',
        default='mDice',
        help='metric key of the JSONs (default mDice; e.g. Dice_LV, mHD95)')
    parser.add_argument(
        '--split', help='use only results on this split (e.g. test)')
    parser.add_argument(
        '--out',
        help='folder for results_table.md and results_table.csv '
        '(default: the first WORK_DIR)')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='replace existing results_table.* files')
    parser.add_argument(
        '--flag-mixed',
        action='store_true',
        help='average runs of different protocols in one cell and mark the '
        'cell, instead of refusing')
    return parser.parse_args(argv)


def find_summaries(work_dirs: Sequence[str]) -> List[Tuple[str, str]]:
    """``(work dir argument, JSON path)`` for every summary under each dir.

    Raises:
        FileNotFoundError: A work dir does not exist.
        ValueError: No summary anywhere.
    """
    found, seen = [], set()
    for work_dir in work_dirs:
        if not osp.isdir(work_dir):
            raise FileNotFoundError(f'{work_dir}: no such work dir')
        for root, _, files in os.walk(work_dir):
            path = osp.join(root, SUMMARY_NAME)
            # a folder given twice, or inside another one, counts once
            if SUMMARY_NAME in files and osp.abspath(path) not in seen:
                seen.add(osp.abspath(path))
                found.append((work_dir, path))
    if not found:
        raise ValueError(f'no {SUMMARY_NAME} under {", ".join(work_dirs)}: '
                         'run tools/test.py CONFIG CKPT --out DIR inside the '
                         'work dirs first')
    return sorted(found, key=lambda item: item[1])


def _config_dumps(folder: str) -> List[str]:
    return sorted(glob.glob(osp.join(folder, '*.py')))


def run_dir_of(json_path: str, top: str) -> str:
    """The nearest folder above ``json_path`` (up to ``top``) with a config
    dump; without one, the JSON's folder (its parent for ``test_*``)."""
    top = osp.abspath(top)
    folder = osp.dirname(osp.abspath(json_path))
    probe = folder
    while True:
        if _config_dumps(probe):
            return probe
        if probe == top or osp.dirname(probe) == probe:
            break
        probe = osp.dirname(probe)
    if osp.basename(folder).startswith('test_') and folder != top:
        return osp.dirname(folder)
    return folder


def _read_dump(path: str) -> dict:
    # The dump is a flat python dict file; custom imports are not needed to
    # read its values, and a broken dump must not stop the table.
    from mmengine.config import Config
    try:
        return Config.fromfile(path, import_custom_modules=False).to_dict()
    except Exception:  # noqa: BLE001
        return {}


def _describe_run(run_dir: str, summary: dict,
                  json_path: str) -> Tuple[str, str, int, Optional[int]]:
    dumps = _config_dumps(run_dir)
    dump = _read_dump(dumps[0]) if dumps else {}
    names = [osp.splitext(osp.basename(d))[0] for d in dumps]
    names.append(_TIME_PREFIX.sub('', osp.basename(run_dir)))
    method, cases = summary.get('method'), summary.get('labeled_cases')
    dataset = summary.get('dataset')
    for name in names:
        match = _CONFIG_NAME.search(name)
        if match:
            method = method or match.group('method')
            dataset = dataset or match.group('dataset')
            cases = cases if cases is not None else int(match.group('cases'))
            break
    if cases is None:
        split = (dump.get('train_dataloader') or {}).get('dataset',
                                                         {}).get('split', '')
        match = _LABELED_SPLIT.search(str(split))
        cases = int(match.group('cases')) if match else None
    if method is None or cases is None:
        raise ValueError(
            f'{json_path}: cannot tell the method and labeled-case count; '
            'expected a config dump or work dir named <method>_<dataset>_'
            '<N>case (e.g. aigcmatch_acdc_7case), or keys "method" and '
            '"labeled_cases" in the JSON')
    seed = summary.get('seed')
    if seed is None:
        seed = (dump.get('randomness') or {}).get('seed')
    if seed is None:
        match = _SEED_IN_NAME.search(osp.basename(run_dir))
        seed = int(match.group('seed')) if match else None
    return (str(method), str(dataset or ''), int(cases),
            None if seed is None else int(seed))


def load_results(
        work_dirs: Sequence[str],
        metric: str,
        split: Optional[str] = None) -> Tuple[List[RunResult], List[str]]:
    """Read every summary; returns the runs and notes on what was dropped.

    Raises:
        ValueError: A JSON is unreadable, lacks ``metrics``/``protocol`` or the
            metric, or its run cannot be named; the message names the file.
    """
    latest: Dict[Tuple[str, str], Tuple[float, RunResult]] = {}
    notes = []
    for top, path in find_summaries(work_dirs):
        try:
            with open(path) as f:
                summary = json.load(f)
        except (OSError, json.JSONDecodeError) as e:
            raise ValueError(f'{path}: not a readable JSON file ({e})') from e
        if not isinstance(summary, dict) or not isinstance(
                summary.get('metrics'), dict) or not isinstance(
                    summary.get('protocol'), dict):
            raise ValueError(f'{path}: expected a MedicalMetric summary with '
                             '"metrics" and "protocol" objects')
        if metric not in summary['metrics']:
            raise ValueError(f'{path}: no metric {metric!r}; it has '
                             f"{', '.join(sorted(summary['metrics']))}")
        protocol = summary['protocol']
        if split is not None and protocol.get('split') != split:
            notes.append(f'skipped {path}: split {protocol.get("split")!r}')
            continue
        value = summary['metrics'][metric]
        value = float('nan') if value is None else float(value)
        run_dir = run_dir_of(path, top)
        method, dataset, cases, seed = _describe_run(run_dir, summary, path)
        result = RunResult(method, dataset, cases, seed, value, protocol, path,
                           run_dir)
        key = (osp.abspath(run_dir), _protocol_key(protocol))
        mtime = osp.getmtime(path)
        if key in latest:
            older, newer = sorted([latest[key], (mtime, result)],
                                  key=lambda item: item[0])
            notes.append(f'{older[1].json_path}: same run and protocol as '
                         f'{newer[1].json_path}; using the newer one')
            latest[key] = newer
        else:
            latest[key] = (mtime, result)
    return [r for _, r in latest.values()], notes


def _protocol_key(protocol: dict) -> str:
    return json.dumps(protocol, sort_keys=True)


def describe_protocol(protocol: dict) -> str:
    """One line naming every field of a protocol."""
    parts = []
    for key, label in _PROTOCOL_FIELDS:
        if key in protocol:
            value = protocol[key]
            if isinstance(value, list):
                value = ', '.join(str(v) for v in value)
            parts.append(f'{label}: {value}')
    extra = sorted(set(protocol) - {k for k, _ in _PROTOCOL_FIELDS})
    parts += [f'{k}: {protocol[k]}' for k in extra]
    return '; '.join(parts)


def _method_sort_key(row: str):
    low = row.lower()
    method = low.split(' (')[0]
    if method in _METHOD_ORDER:
        return (0, _METHOD_ORDER.index(method), low)
    return (1, 0, low)


def mean_std(values: Sequence[float]) -> Tuple[float, Optional[float]]:
    """Mean and sample standard deviation (n - 1; None for one value)."""
    mean = statistics.fmean(values)
    std = statistics.stdev(values) if len(values) > 1 else None
    return mean, std


def build_table(results: Sequence[RunResult], flag_mixed: bool = False):
    """Group runs into cells (method × labeled cases) with their statistics.

    When the runs come from more than one dataset (the ``<dataset>`` part of
    the config names, e.g. ``acdc`` and ``demo``), rows are
    ``method (dataset)``, so results on different data never share a cell.

    Args:
        results (Sequence[RunResult]): The runs.
        flag_mixed (bool): Average runs of different protocols in one cell
            and mark it, instead of raising.

    Returns:
        tuple: ``(cells, methods, case_counts, protocols)`` where ``cells``
        maps ``(row, cases)`` to a dict (``mean``, ``std``, ``n``,
        ``seeds``, ``protocol_ids``, ``mixed``, ``runs``) and ``protocols`` is
        the list of distinct protocols (id = index + 1).

    Raises:
        ValueError: Runs of different protocols in one cell (unless
            ``flag_mixed``); the message names both JSON files.
    """
    protocols: 'OrderedDict[str, dict]' = OrderedDict()
    grouped: Dict[Tuple[str, int], List[RunResult]] = {}
    several_datasets = len({r.dataset for r in results}) > 1
    for r in sorted(results, key=lambda r: r.json_path):
        protocols.setdefault(_protocol_key(r.protocol), r.protocol)
        row = f'{r.method} ({r.dataset or "?"})' if several_datasets \
            else r.method
        grouped.setdefault((row, r.cases), []).append(r)
    ids = {key: i + 1 for i, key in enumerate(protocols)}
    cells = {}
    for (method, cases), runs in grouped.items():
        keys = OrderedDict((_protocol_key(r.protocol), r) for r in runs)
        if len(keys) > 1 and not flag_mixed:
            first, second = list(keys.values())[:2]
            differing = sorted(
                k for k in set(first.protocol) | set(second.protocol)
                if first.protocol.get(k) != second.protocol.get(k))
            raise ValueError(
                f'{method}, {cases} case(s): runs of different evaluation '
                f'protocols ({", ".join(differing)} differ): '
                f'{first.json_path} vs {second.json_path}; pass --split, '
                'remove one, or --flag-mixed to average and mark them')
        values = [r.value for r in runs]
        mean, std = mean_std(values)
        cells[(method, cases)] = dict(
            mean=mean,
            std=std,
            n=len(runs),
            seeds=[r.seed for r in runs],
            protocol_ids=sorted({ids[k]
                                 for k in keys}),
            mixed=len(keys) > 1,
            runs=[r.json_path for r in runs])
    methods = sorted({m for m, _ in cells}, key=_method_sort_key)
    case_counts = sorted({c for _, c in cells})
    return cells, methods, case_counts, list(protocols.values())


def _cell_text(cell: dict, show_protocol: bool) -> str:
    if cell is None:
        return '–'
    if math.isnan(cell['mean']):
        text = 'n/a'
    elif cell['std'] is None:
        text = f"{cell['mean']:.2f}"
    else:
        text = f"{cell['mean']:.2f} ± {cell['std']:.2f}"
    text += f" (n={cell['n']})"
    if show_protocol or cell['mixed']:
        text += ' [' + ','.join(f'P{i}' for i in cell['protocol_ids']) + ']'
    if cell['mixed']:
        text += ' †'
    return text


def to_markdown(cells, methods, case_counts, protocols, metric: str,
                num_files: int) -> str:
    """The table with its protocol header, as Markdown."""
    lines = [
        f'# {metric}: mean ± std over seeds', '',
        f'Collected from {num_files} {SUMMARY_NAME} file(s). Each cell: '
        'mean ± sample standard deviation (n - 1) over runs with '
        'different seeds, n = number of runs.', ''
    ]
    if len(protocols) == 1:
        lines.append(f'Protocol: {describe_protocol(protocols[0])}')
    else:
        lines.append('Protocols (cells name theirs):')
        lines += [
            f'- P{i + 1}: {describe_protocol(p)}'
            for i, p in enumerate(protocols)
        ]
    lines.append('')
    header = ['method'
              ] + [f'{c} case' + ('s' if c != 1 else '') for c in case_counts]
    lines.append('| ' + ' | '.join(header) + ' |')
    lines.append('| ' + ' | '.join(['---'] * len(header)) + ' |')
    for method in methods:
        row = [method] + [
            _cell_text(cells.get((method, c)),
                       len(protocols) > 1) for c in case_counts
        ]
        lines.append('| ' + ' | '.join(row) + ' |')
    if any(cell['mixed'] for cell in cells.values()):
        lines += [
            '', '† averages runs of different protocols: not '
            'comparable with the other cells.'
        ]
    return '\n'.join(lines) + '\n'


def write_csv(path: str, cells, methods, case_counts, metric: str) -> None:
    """One row per cell."""
    with open(path, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow([
            'method', 'labeled_cases', 'metric', 'mean', 'std', 'n', 'seeds',
            'protocols', 'mixed_protocols', 'json_files'
        ])
        for method in methods:
            for cases in case_counts:
                cell = cells.get((method, cases))
                if cell is None:
                    continue
                writer.writerow([
                    method, cases, metric,
                    repr(cell['mean']),
                    '' if cell['std'] is None else repr(cell['std']),
                    cell['n'], ' '.join('?' if s is None else str(s)
                                        for s in cell['seeds']),
                    ' '.join(f'P{i}' for i in cell['protocol_ids']),
                    int(cell['mixed']), ' '.join(cell['runs'])
                ])


def main(argv=None) -> None:
    args = parse_args(argv)
    out_dir = args.out or args.work_dirs[0]
    md_path = osp.join(out_dir, 'results_table.md')
    csv_path = osp.join(out_dir, 'results_table.csv')
    for path in (md_path, csv_path):
        if osp.exists(path) and not args.overwrite:
            raise FileExistsError(f'{path} already exists; pass --overwrite '
                                  'to replace it or choose another --out')
    results, notes = load_results(args.work_dirs, args.metric, args.split)
    if not results:
        raise ValueError(f'no result left after --split {args.split}')
    cells, methods, case_counts, protocols = build_table(
        results, args.flag_mixed)
    markdown = to_markdown(cells, methods, case_counts, protocols, args.metric,
                           len(results))
    os.makedirs(out_dir, exist_ok=True)
    with open(md_path, 'w') as f:
        f.write(markdown)
    write_csv(csv_path, cells, methods, case_counts, args.metric)
    for (method, cases), cell in cells.items():
        known = [s for s in cell['seeds'] if s is not None]
        if len(set(known)) < len(known):
            notes.append(f'{method}, {cases} case(s): several runs share a '
                         f'seed ({cell["seeds"]}); the std is not over seeds')
    for note in notes:
        print(f'note: {note}')
    print(markdown)
    print(f'wrote {md_path} and {csv_path}')


if __name__ == '__main__':
    run_tool(main)
