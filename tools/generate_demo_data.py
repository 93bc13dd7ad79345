"""Write the synthetic ACDC-like demo set.

The generator is ``projects/aigcmatch/datasets/synthetic.py``.

Example:
    python tools/generate_demo_data.py --out data/demo_acdc --num-patients 100
"""
import argparse
import os
import os.path as osp
import sys
import time

# run from any folder, with or without tools/env.sh
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from projects.aigcmatch.datasets.synthetic import \
    make_synthetic_acdc  # noqa: E402
from projects.aigcmatch.utils import UserError, run_tool  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--out',
        default='data/demo_acdc',
        help='output folder (ROOT of the layout)')
    parser.add_argument(
        '--num-patients',
        type=int,
        default=100,
        help='patients patient001..patientNNN (ACDC splits name 001-100)')
    parser.add_argument(
        '--size',
        type=int,
        nargs=2,
        default=(128, 128),
        metavar=('H', 'W'),
        help='nominal slice size; each patient varies by up to 10%%')
    parser.add_argument(
        '--slices',
        type=int,
        nargs=2,
        default=(8, 10),
        metavar=('MIN', 'MAX'),
        help='short-axis slices per volume')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='write into a non-empty --out (its old h5 files are replaced)')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if osp.isdir(args.out) and os.listdir(args.out) and not args.overwrite:
        raise UserError(f'--out {args.out} is not empty; pass --overwrite to '
                        'replace its data')
    start = time.time()
    summary = make_synthetic_acdc(
        args.out,
        num_patients=args.num_patients,
        image_size=tuple(args.size),
        slices=tuple(args.slices),
        seed=args.seed,
        overwrite=args.overwrite)
    print(f"wrote {summary['num_volumes']} volumes and "
          f"{summary['num_slices']} slices of {summary['num_patients']} "
          f"patients to {osp.join(args.out, 'data')} in "
          f'{time.time() - start:.1f} s; class fractions (bg, RV, Myo, LV) '
          f"{summary['class_fraction']}")
    return 0


if __name__ == '__main__':
    run_tool(main)
