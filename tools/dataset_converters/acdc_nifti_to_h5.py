"""Convert the raw ACDC challenge NIfTI release to the h5 layout.

Input (the challenge download, extracted)::

    RAW/training/patient001/patient001_frame01.nii.gz
                            patient001_frame01_gt.nii.gz
                            patient001_frame12.nii.gz
                            patient001_frame12_gt.nii.gz
                            patient001_4d.nii.gz          (skipped)
                            Info.cfg
    RAW/testing/patient101/...

Output, the SSL4MIS/UniMatch layout: ``OUT/data/patientXXX_frameYY.h5``
(volumes, with the ``spacing`` attribute) and
``OUT/data/slices/patientXXX_frameYY_slice_Z.h5``. The ACDC split files
shipped in ``projects/aigcmatch/datasets/splits/acdc`` apply unchanged. Axis
order and the way back to NIfTI: ``projects/aigcmatch/datasets/io/`` and
``tools/dataset_converters/h5_to_nifti.py``.

Example:
    python tools/dataset_converters/acdc_nifti_to_h5.py RAW --out data/ACDC
"""
import argparse
import os.path as osp
import sys
import time

# run from any folder, with or without tools/env.sh
sys.path.insert(0,
                osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from projects.aigcmatch.datasets.converters import convert_acdc  # noqa: E402
from projects.aigcmatch.utils import run_tool  # noqa: E402
from projects.aigcmatch.utils.cli import \
    print_data_warnings_as_lines  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        'raw_root', help='extracted ACDC data (holding training/, testing/)')
    parser.add_argument(
        '--out', default='data/ACDC', help='ROOT of the h5 layout')
    parser.add_argument(
        '--subsets',
        nargs='+',
        default=['training', 'testing'],
        help='sub-folders of RAW to convert when present')
    parser.add_argument(
        '--norm',
        choices=('robust_minmax', 'minmax', 'percentile'),
        default='robust_minmax',
        help="intensity normalisation per volume (default robust_minmax: "
        "min-max as SSL4MIS/UniMatch, with voxels far outside the "
        "0.5-99.5th percentile range replaced first; minmax: UniMatch's "
        'exact min-max; percentile: clip to that range, then scale)')
    parser.add_argument(
        '--no-slices', action='store_true', help='write volumes only')
    parser.add_argument(
        '--overwrite', action='store_true', help='replace OUT/data')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Convert; bad input raises (``ConversionError``, ``FileExistsError``),
    which :func:`run_tool` prints as one ``error:`` line, exit status 2."""
    args = parse_args(argv)
    print_data_warnings_as_lines()  # also when main() is called directly
    start = time.time()
    summary = convert_acdc(
        args.raw_root,
        args.out,
        overwrite=args.overwrite,
        subsets=args.subsets,
        slices=not args.no_slices,
        norm=args.norm)
    print(f"converted {summary['num_cases']} volumes of "
          f"{summary['num_patients']} patients ({summary['num_slices']} "
          f"slices, labels {summary['labels_found']}) to "
          f"{osp.join(args.out, 'data')} in {time.time() - start:.1f} s")
    return 0


if __name__ == '__main__':
    run_tool(main)
