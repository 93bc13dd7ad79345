"""Convert a NIfTI segmentation dataset to the h5 layout, with split files.

Pairs come from a folder and naming patterns (``{case}`` stands for the case
id) or from a CSV with a header ``image,label`` (optional ``case`` column;
relative paths are taken from the CSV's folder)::

    # nnU-Net / Medical Decathlon style
    python tools/dataset_converters/nifti_to_h5.py \\
        --images imagesTr --image-pattern '{case}_0000.nii.gz' \\
        --labels labelsTr --label-pattern '{case}.nii.gz' \\
        --out data/my_set --num-classes 3 --num-labeled 4
    # a CSV of pairs; CT windowed to [-200, 300] HU before normalisation
    python tools/dataset_converters/nifti_to_h5.py --csv pairs.csv \\
        --out data/my_set --clip -200 300

Output, the SSL4MIS/UniMatch layout: ``OUT/data/<case>.h5`` (+
``OUT/data/slices/<case>_slice_<k>.h5``) and
``OUT/splits/{train,val,test}.txt`` (seeded, by case or by
``--group-regex``), plus ``labeled.txt`` and
``unlabeled.txt`` with ``--num-labeled``; scans without labels join
``unlabeled.txt`` with ``--allow-unlabeled``. A config then needs only::

    data_root = 'data/my_set'
    num_classes = 3
    labeled = dict(type='ACDCDataset', data_root=data_root, mode='labeled',
                   split=f'{data_root}/splits/labeled.txt')
    unlabeled = dict(type='ACDCDataset', data_root=data_root,
                     mode='unlabeled',
                     split=f'{data_root}/splits/unlabeled.txt')
    val = dict(type='ACDCDataset', data_root=data_root, mode='volume',
               split=f'{data_root}/splits/val.txt')
"""
import argparse
import os.path as osp
import sys
import time

# run from any folder, with or without tools/env.sh
sys.path.insert(0,
                osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from projects.aigcmatch.datasets.converters import convert_pairs  # noqa: E402
from projects.aigcmatch.datasets.io import (  # noqa: E402
    IntensityNorm, find_nifti_pairs, read_pairs_csv)
from projects.aigcmatch.utils import run_tool  # noqa: E402
from projects.aigcmatch.utils.cli import \
    print_data_warnings_as_lines  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog='\n'.join(__doc__.splitlines()[1:]))
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument('--images', help='folder of image files')
    src.add_argument(
        '--csv', help="CSV with a header 'image,label' (optional 'case')")
    parser.add_argument(
        '--labels', help='folder of label files (default: --images)')
    parser.add_argument('--image-pattern', default='{case}.nii.gz')
    parser.add_argument('--label-pattern', default='{case}_gt.nii.gz')
    parser.add_argument('--out', required=True, help='ROOT of the h5 layout')
    parser.add_argument(
        '--num-classes',
        type=int,
        help='check that every label value is in 0..NUM_CLASSES-1')
    parser.add_argument(
        '--clip',
        type=float,
        nargs=2,
        metavar=('LOW', 'HIGH'),
        help='clip intensities before normalisation (CT window)')
    parser.add_argument(
        '--norm',
        choices=('robust_minmax', 'minmax', 'percentile'),
        default='robust_minmax',
        help="intensity normalisation per volume (default robust_minmax: "
        "min-max, with voxels far outside the --percentiles range replaced "
        "first; minmax: UniMatch's exact min-max; percentile: clip to the "
        '--percentiles range, then scale). Set the same intensity_norm in '
        'the config, so tools/infer.py normalises new scans alike')
    parser.add_argument(
        '--percentiles',
        type=float,
        nargs=2,
        default=(0.5, 99.5),
        metavar=('LOW', 'HIGH'),
        help='percentile range of --norm (default 0.5 99.5)')
    parser.add_argument(
        '--split-ratios',
        type=float,
        nargs=3,
        default=(0.7, 0.1, 0.2),
        metavar=('TRAIN', 'VAL', 'TEST'))
    parser.add_argument('--seed', type=int, default=0, help='split seed')
    parser.add_argument(
        '--group-regex',
        help="cases with the same match stay in one split, e.g. "
        "'^patient\\d+'")
    parser.add_argument(
        '--num-labeled',
        type=int,
        help='also write splits/labeled.txt (this many training cases or '
        'groups) and splits/unlabeled.txt (the rest of train)')
    parser.add_argument(
        '--allow-unlabeled',
        action='store_true',
        help='convert images without a label file (or with an empty CSV '
        'label cell) as unlabeled data, listed in splits/unlabeled.txt only')
    parser.add_argument(
        '--no-slices', action='store_true', help='write volumes only')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='replace an existing OUT/data and OUT/splits')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Convert; bad input raises (``ConversionError``, ``FileExistsError``,
    ``ValueError``), which :func:`run_tool` prints as one ``error:`` line,
    exit status 2."""
    args = parse_args(argv)
    print_data_warnings_as_lines()  # also when main() is called directly
    start = time.time()
    norm = IntensityNorm(args.norm, tuple(args.percentiles))
    if args.csv:
        pairs = read_pairs_csv(args.csv, args.allow_unlabeled)
    else:
        pairs = find_nifti_pairs(args.images, args.labels, args.image_pattern,
                                 args.label_pattern, args.allow_unlabeled)
    summary = convert_pairs(
        pairs,
        args.out,
        num_classes=args.num_classes,
        clip=tuple(args.clip) if args.clip else None,
        overwrite=args.overwrite,
        ratios=args.split_ratios,
        seed=args.seed,
        group_pattern=args.group_regex,
        num_labeled=args.num_labeled,
        slices=not args.no_slices,
        norm=norm)
    print(f"converted {summary['num_cases']} cases "
          f"({summary['num_unlabeled']} unlabeled, {summary['num_slices']} "
          f"slices, labels {summary['labels_found']}) to "
          f"{osp.join(args.out, 'data')} in {time.time() - start:.1f} s; "
          f"splits {summary['splits']} in {osp.join(args.out, 'splits')}")
    if args.num_classes:
        absent = set(range(args.num_classes)) - set(summary['labels_found'])
        if absent:
            print(
                f'warning: classes {sorted(absent)} of '
                f'0..{args.num_classes - 1} occur in no label map',
                file=sys.stderr)
    return 0


if __name__ == '__main__':
    run_tool(main)
