"""Regenerate the TotalSegmentator CT test fixture (see README.md here).

Example::

    pip download --no-deps --no-binary :all: TotalSegmentator==2.18.0 \
        -d /tmp/ts
    python tests/data/totalseg_ct/make_fixture.py \
        --sdist /tmp/ts/totalsegmentator-2.18.0.tar.gz

Reads the example CT and its segmentation straight from the sdist (no
extraction), crops a box around liver, spleen and kidneys, remaps the labels to
0..3 and writes ``image.nii.gz`` and ``label.nii.gz`` next to this script.
Prints the SHA-256 of the arrays, which README.md lists, so a regenerated
fixture can be checked against the committed one.
"""
import argparse
import gzip
import hashlib
import os
import os.path as osp
import sys
import tarfile

import nibabel as nib
import numpy as np

VERSION = '2.18.0'
MEMBERS = ('tests/reference_files/example_ct_sm.nii.gz',
           'tests/reference_files/example_seg.nii.gz')
# Voxel box (x, y, z) in the 122x101x30 3-mm source grid: the 10 axial slices
# where liver, spleen and both kidneys all appear. The sizes differ on purpose
# (96x67x10), so that a transposed axis cannot go unnoticed in the converter
# tests.
BOX = (slice(10, 106), slice(20, 87), slice(4, 14))
# TotalSegmentator 'total' class ids -> fixture ids
REMAP = {5: 1, 1: 2, 2: 3, 3: 3}  # liver, spleen, kidney_right + kidney_left
CLASSES = ('background', 'liver', 'spleen', 'kidney')


def read_member(sdist: str, member: str) -> nib.Nifti1Image:
    """Load ``member`` from the sdist tarball (or its extracted folder)."""
    if osp.isdir(sdist):
        return nib.load(osp.join(sdist, member))
    with tarfile.open(sdist) as tar:
        name = f'totalsegmentator-{VERSION}/{member}'
        try:
            data = tar.extractfile(name).read()
        except KeyError:
            sys.exit(f'error: {sdist} has no {name}; is it the '
                     f'TotalSegmentator {VERSION} sdist?')
    return nib.Nifti1Image.from_bytes(gzip.decompress(data))


def digest(arr: np.ndarray) -> str:
    """First 16 hex digits of the SHA-256 of the array's bytes."""
    return hashlib.sha256(np.ascontiguousarray(arr).tobytes()).hexdigest()[:16]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--sdist',
        required=True,
        help=f'totalsegmentator-{VERSION}.tar.gz or its extracted folder')
    parser.add_argument('--out', default=osp.dirname(osp.abspath(__file__)))
    args = parser.parse_args(argv)

    ct, seg = (read_member(args.sdist, m) for m in MEMBERS)
    assert ct.shape == seg.shape == (122, 101, 30), ct.shape
    # nibabel's slicer moves the affine's origin with the crop
    ct_crop, seg_crop = ct.slicer[BOX], seg.slicer[BOX]
    src = np.asanyarray(seg_crop.dataobj)
    label = np.zeros(src.shape, np.uint8)
    for old, new in REMAP.items():
        label[src == old] = new
    image = np.asanyarray(ct_crop.dataobj).astype(np.int16)

    header = ct_crop.header.copy()
    header.set_data_dtype(np.int16)
    out_img = nib.Nifti1Image(image, ct_crop.affine, header)
    header = seg_crop.header.copy()
    header.set_data_dtype(np.uint8)
    out_lab = nib.Nifti1Image(label, seg_crop.affine, header)
    os.makedirs(args.out, exist_ok=True)
    nib.save(out_img, osp.join(args.out, 'image.nii.gz'))
    nib.save(out_lab, osp.join(args.out, 'label.nii.gz'))
    counts = np.bincount(label.ravel(), minlength=len(CLASSES))
    print(f'shape {image.shape}, zooms {ct_crop.header.get_zooms()}, '
          f'axcodes {nib.aff2axcodes(ct_crop.affine)}')
    print('voxels per class:', dict(zip(CLASSES, counts.tolist())))
    print(f'sha256[:16] image {digest(image)} label {digest(label)}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
