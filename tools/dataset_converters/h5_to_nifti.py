"""Write volume files of the h5 layout back as NIfTI.

The result has the source's orientation, affine and spacing (see
``projects/aigcmatch/datasets/io/``).

Example:
    python tools/dataset_converters/h5_to_nifti.py \\
        data/ACDC/data/patient001_frame01.h5 --out-dir out
    # -> out/patient001_frame01.nii.gz (image, original intensities)
    #    out/patient001_frame01_gt.nii.gz (label)
"""
import argparse
import os
import os.path as osp
import sys

import h5py

# run from any folder, with or without tools/env.sh
sys.path.insert(0,
                osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from projects.aigcmatch.datasets.io import h5_to_nifti  # noqa: E402
from projects.aigcmatch.utils import run_tool  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('volumes', nargs='+', help='ROOT/data/<case>.h5 files')
    parser.add_argument('--out-dir', required=True)
    parser.add_argument(
        '--label-suffix',
        default='_gt',
        help='label file = <case><suffix>.nii.gz')
    parser.add_argument(
        '--no-image', action='store_true', help='write labels only')
    parser.add_argument(
        '--normalised',
        action='store_true',
        help='keep the image min-max normalised (do not restore its range)')
    parser.add_argument('--overwrite', action='store_true')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Write each volume; bad input raises (``ConversionError``,
    ``FileExistsError``), which :func:`run_tool` prints as one ``error:``
    line, exit status 2."""
    args = parse_args(argv)
    os.makedirs(args.out_dir, exist_ok=True)
    for path in args.volumes:
        case = osp.basename(path)
        case = case[:-3] if case.endswith('.h5') else case
        label = osp.join(args.out_dir, f'{case}{args.label_suffix}.nii.gz')
        if osp.isfile(path):
            with h5py.File(path, 'r') as f:
                if 'label' not in f:  # an unlabeled scan
                    label = None
        image = None
        if not args.no_image:
            image = osp.join(args.out_dir, f'{case}.nii.gz')
        for out in (label, image):
            if out and osp.exists(out) and not args.overwrite:
                raise FileExistsError(
                    f'{out} already exists; pass --overwrite')
        h5_to_nifti(
            path,
            label_path=label,
            image_path=image,
            denormalise=not args.normalised)
        written = ', '.join(p for p in (label, image) if p)
        print(f'{path} -> {written}')
    return 0


if __name__ == '__main__':
    run_tool(main)
