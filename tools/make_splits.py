# Copyright (c) aigcmatch contributors. All rights reserved.
"""Make patient-level split files for a dataset in the SSL4MIS/UniMatch layout.

Patients are found under DATA_ROOT (slice files
``data/slices/<case>_slice_<k>.h5`` and volume files ``data/<case>.h5``); a
case's patient is its id without a ``_frameNN`` suffix (``--patient-pattern``
changes the rule). Splits are drawn by patient, never by slice, so no
patient's slices are on two sides. The draw is seeded, and the labeled sets
are nested (the N-case set holds the smaller ones).

Examples:
    # train/val/test (70/10/20 %) and labeled/unlabeled for 1, 3, 7 cases
    python tools/make_splits.py data/MyData splits/mydata --labeled 1 3 7
    # other labeled sizes on ACDC's shipped training patients
    python tools/make_splits.py data/ACDC splits/acdc_more --train train \\
        --labeled 2 14 --seed 1

Written files: ``train.txt``, ``val.txt``, ``test.txt``, ``valtest.txt``
(unless --train is given), ``labeled_<N>case.txt``, ``unlabeled_<N>case.txt``;
use them with ``split='<OUT_DIR>/labeled_2case.txt'``. Existing files are
never overwritten unless --overwrite is passed.
"""
import argparse
import os
import os.path as osp
import re
import sys
from collections import defaultdict
from typing import Dict, List

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from projects.aigcmatch.datasets.acdc_dataset import ACDCDataset  # noqa: E402
from projects.aigcmatch.datasets.split_files import (  # noqa: E402
    DEFAULT_PATIENT_PATTERN, draw_labeled, draw_splits, patient_of,
    patients_of_split, read_split, resolve_split)
from projects.aigcmatch.utils import UserError, run_tool  # noqa: E402

_SLICE_NAME = re.compile(r'^(?P<case>.+)_slice_\d+\.h5$')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Make patient-level split files (seeded, no leaks).')
    parser.add_argument('data_root', help='dataset root (SSL4MIS layout)')
    parser.add_argument('out_dir', help='folder to write the split files to')
    parser.add_argument(
        '--labeled',
        type=int,
        nargs='+',
        default=[1, 3, 7],
        help='numbers of labeled patients (default: 1 3 7)')
    parser.add_argument('--seed', type=int, default=0, help='random seed')
    parser.add_argument(
        '--train',
        help='draw the labeled sets from this split (a file, or a shipped '
        'ACDC split name) instead of making train/val/test')
    parser.add_argument(
        '--val',
        type=float,
        default=0.1,
        help='validation patients: a count (>= 1) or a fraction (< 1); '
        'default 0.1')
    parser.add_argument(
        '--test',
        type=float,
        default=0.2,
        help='test patients: a count (>= 1) or a fraction (< 1); default 0.2')
    parser.add_argument(
        '--slice-dir',
        default='data/slices',
        help='slice folder under data_root')
    parser.add_argument(
        '--volume-dir', default='data', help='volume folder under data_root')
    parser.add_argument(
        '--patient-pattern',
        default=DEFAULT_PATIENT_PATTERN,
        help='regular expression from a case id to its patient (group '
        '"patient"); default drops a _frameNN suffix')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='replace split files that already exist')
    return parser.parse_args(argv)


def scan_cases(folder: str, slices: bool) -> Dict[str, int]:
    """Case id -> number of files (slices, or 1 for a volume) in a folder."""
    counts: Dict[str, int] = defaultdict(int)
    if not osp.isdir(folder):
        return counts
    for entry in os.scandir(folder):
        if not entry.is_file() or not entry.name.endswith('.h5'):
            continue
        if slices:
            match = _SLICE_NAME.match(entry.name)
            if match:
                counts[match['case']] += 1
        else:
            counts[entry.name[:-3]] += 1
    return counts


def count(value: float, total: int, what: str) -> int:
    """A count given as a number (>= 1) or a fraction of ``total``."""
    if value < 0 or (value >= 1 and value != int(value)):
        raise UserError(f'--{what} {value}: expected a patient count or a '
                        'fraction in [0, 1)')
    return int(value) if value >= 1 else int(round(value * total))


def main(argv=None) -> Dict[str, List[str]]:
    """Write the split files; returns them (name -> patient ids)."""
    args = parse_args(argv)
    if not osp.isdir(args.data_root):
        raise FileNotFoundError(f'data_root "{args.data_root}" is not a '
                                'folder')
    slice_cases = scan_cases(osp.join(args.data_root, args.slice_dir), True)
    volume_cases = scan_cases(osp.join(args.data_root, args.volume_dir), False)
    if not slice_cases:
        raise FileNotFoundError(
            f'no slice files <case>_slice_<k>.h5 in '
            f'{osp.join(args.data_root, args.slice_dir)}; expected the '
            'SSL4MIS/UniMatch layout (see --slice-dir)')

    def group(cases):
        by_patient = defaultdict(int)
        for case, n in cases.items():
            by_patient[patient_of(case, args.patient_pattern)] += n
        return by_patient

    slices_of, volumes_of = group(slice_cases), group(volume_cases)
    splits: Dict[str, List[str]] = {}
    if args.train:
        path = resolve_split(args.train, ACDCDataset.SPLITS_DIR)
        train = patients_of_split(read_split(path), args.patient_pattern)
        missing = [p for p in train if p not in slices_of]
        if missing:
            raise UserError(f'split {path} names {", ".join(missing[:10])}, '
                            'which have no slice files under '
                            f'{osp.join(args.data_root, args.slice_dir)}')
    else:
        pool = sorted(set(slices_of) & set(volumes_of))
        skipped = len(set(slices_of) | set(volumes_of)) - len(pool)
        if skipped:
            print(f'note: {skipped} patient(s) without both slice and volume '
                  'files are left out')
        n_val = count(args.val, len(pool), 'val')
        n_test = count(args.test, len(pool), 'test')
        if n_val + n_test + max(args.labeled) + 1 > len(pool):
            raise UserError(
                f'{len(pool)} patients cannot hold {n_val} val + {n_test} '
                f'test + {max(args.labeled)} labeled + at least 1 unlabeled')
        splits.update(draw_splits(pool, n_val, n_test, args.seed))
        train = splits['train']
    for n in args.labeled:
        if not 1 <= n < len(train):
            raise UserError(
                f'--labeled {n}: expected 1..{len(train) - 1} labeled '
                f'patients (there are {len(train)} training patients and at '
                'least one must stay unlabeled)')
    splits.update(draw_labeled(train, args.labeled, args.seed))

    targets = {name: osp.join(args.out_dir, name + '.txt') for name in splits}
    existing = [p for p in targets.values() if osp.exists(p)]
    if existing and not args.overwrite:
        raise FileExistsError(
            f'{len(existing)} split file(s) already exist '
            f'({", ".join(existing[:4])}); pass --overwrite to replace them '
            '(nothing was written)')
    os.makedirs(args.out_dir, exist_ok=True)
    for name, patients in splits.items():
        with open(targets[name], 'w') as f:
            f.write(''.join(f'{p}\n' for p in patients))
        n_slices = sum(slices_of.get(p, 0) for p in patients)
        print(f'{targets[name]}: {len(patients)} patients, {n_slices} '
              'slices')
    return splits


if __name__ == '__main__':
    run_tool(main)
