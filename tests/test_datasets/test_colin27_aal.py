"""The real-MRI benchmark set: AAL grouping, sagittal slabs, splits, and the
fetch paths of tools/dataset_converters/colin27_aal_to_h5.py, on a small
stand-in volume with the real files' layout (``colin27_stand_in`` of the root
conftest; the real files are downloaded only by the benchmark)."""
import os.path as osp
import shutil
import subprocess

import h5py
import nibabel as nib
import numpy as np
import pytest

from projects.aigcmatch.datasets.colin27_aal import (assign_slabs,
                                                     build_colin27_aal,
                                                     group_aal,
                                                     sagittal_slabs)
from projects.aigcmatch.datasets.io.errors import ConversionError
from projects.aigcmatch.datasets.split_files import read_split
from projects.aigcmatch.utils import UserError
from tools.dataset_converters.colin27_aal_to_h5 import main as tool_main

def test_group_aal_classes():
    aal = np.array([0, 1, 70, 71, 78, 79, 90, 91, 116])
    assert group_aal(aal).tolist() == [0, 1, 1, 2, 2, 1, 1, 3, 3]


def test_slabs_cover_the_brain_with_gaps():
    label = np.zeros((40, 2, 2), np.uint8)
    label[3:31] = 1
    assert sagittal_slabs(label, 4, 2) == [(3, 7), (9, 13), (15, 19),
                                           (21, 25), (27, 31)]
    with pytest.raises(ConversionError, match='block >= 1 and gap >= 0'):
        sagittal_slabs(label, 0, 2)
    with pytest.raises(ConversionError, match='no labelled voxel'):
        sagittal_slabs(np.zeros((4, 2, 2)), 2, 1)


def test_slab_assignment_rule():
    present = np.ones((12, 3), bool)
    present[[0, 11]] = False  # lateral slabs: not every class
    parts = assign_slabs(present, num_labeled=2)
    assert parts['test'] == [1, 4, 7, 10]
    assert parts['val'] == [3, 9]
    assert parts['labeled'] == [2, 8]  # outermost complete non-test slabs
    assert parts['unlabeled'] == [0, 5, 6, 11]
    every = sorted(sum(parts.values(), []))
    assert every == list(range(12))
    with pytest.raises(ConversionError, match='num_labeled=9'):
        assign_slabs(present, num_labeled=9)


def test_build_writes_slabs_splits_and_keeps_world_geometry(
        tmp_path, colin27_stand_in):
    image, aal, affine = colin27_stand_in(tmp_path / 'templates')
    out = tmp_path / 'out'
    summary = build_colin27_aal(
        str(tmp_path / 'templates' / 'ch2.nii.gz'),
        str(tmp_path / 'templates' / 'aal.nii.gz'), str(out))
    # brain x 5..54: 50 slices -> slabs of 4 every 6 -> 8 full slabs
    assert summary['num_slabs'] == 8
    splits = {
        name: read_split(str(out / 'splits' / f'{name}.txt'))
        for name in ('labeled', 'unlabeled', 'val', 'test')
    }
    ids = sum(splits.values(), [])
    assert len(ids) == len(set(ids)) == 8  # disjoint, all slabs used
    assert splits['labeled'] == ['colin27_slab02', 'colin27_slab06']

    (y0, y1), (z0, z1) = summary['crop']
    with h5py.File(out / 'data' / 'colin27_slab02.h5', 'r') as f:
        vol_image, vol_label = f['image'][:], f['label'][:]
        slab_affine = f.attrs['affine']
    # slab 2 = sagittal slices 17..20; h5 (D, H, W) = (x, z, y)
    expect_label = group_aal(aal[17:21, y0:y1, z0:z1]).transpose(0, 2, 1)
    np.testing.assert_array_equal(vol_label, expect_label)
    raw = image[17:21, y0:y1, z0:z1].astype(np.float32).transpose(0, 2, 1)
    np.testing.assert_allclose(
        vol_image, (raw - raw.min()) / (raw.max() - raw.min()), atol=1e-6)
    # every voxel keeps its world position: slab voxel (i, j, k) = (y, z, x)
    ijk = np.array([3, 5, 2, 1.0])
    xyz = np.array([17 + 2, y0 + 3, z0 + 5, 1.0])
    np.testing.assert_allclose(slab_affine @ ijk, affine @ xyz)
    assert len(list((out / 'data' / 'slices').glob('*.h5'))) == 8 * 4


def test_build_refuses_a_mismatched_atlas_and_existing_output(
        tmp_path, colin27_stand_in):
    colin27_stand_in(tmp_path / 'a')
    moved = np.eye(4)
    moved[0, 3] = 5
    colin27_stand_in(tmp_path / 'b', affine=moved)
    with pytest.raises(ConversionError, match='expected the grid of'):
        build_colin27_aal(
            str(tmp_path / 'a' / 'ch2.nii.gz'),
            str(tmp_path / 'b' / 'aal.nii.gz'), str(tmp_path / 'out'))
    args = (str(tmp_path / 'a' / 'ch2.nii.gz'),
            str(tmp_path / 'a' / 'aal.nii.gz'), str(tmp_path / 'out'))
    build_colin27_aal(*args)
    marker = tmp_path / 'out' / 'splits' / 'labeled.txt'
    before = marker.read_text()
    with pytest.raises(FileExistsError, match='--overwrite'):
        build_colin27_aal(*args)
    assert marker.read_text() == before
    build_colin27_aal(*args, overwrite=True)
    assert not list((tmp_path / 'out').glob('.converting-*'))


def test_tool_from_a_templates_folder_warns_on_other_files(
        tmp_path, capsys, colin27_stand_in):
    colin27_stand_in(tmp_path / 'templates')
    tool_main([
        '--templates',
        str(tmp_path / 'templates'), '--out',
        str(tmp_path / 'out')
    ])
    captured = capsys.readouterr()
    assert '8 slabs of 4 sagittal slices' in captured.out
    # the stand-in is not Debian's file: the numbers would not compare
    assert 'differs from the mricron-data' in captured.err
    with pytest.raises(UserError, match='expected ch2.nii.gz and aal.nii.gz'):
        tool_main(['--templates', str(tmp_path), '--out', str(tmp_path / 'x')])


@pytest.mark.skipif(
    shutil.which('dpkg-deb') is None, reason='needs dpkg-deb (Debian)')
def test_tool_extracts_a_deb(tmp_path, colin27_stand_in):
    pkg = tmp_path / 'pkg'
    colin27_stand_in(pkg / 'usr' / 'share' / 'mricron' / 'templates')
    (pkg / 'DEBIAN').mkdir()
    (pkg / 'DEBIAN' / 'control').write_text(
        'Package: mricron-data\nVersion: 0-test\nArchitecture: all\n'
        'Maintainer: test <t@example.org>\nDescription: stand-in\n')
    deb = tmp_path / 'mricron-data_0-test_all.deb'
    subprocess.run(['dpkg-deb', '-b', str(pkg), str(deb)], check=True,
                   capture_output=True)
    tool_main([
        '--deb',
        str(deb), '--cache',
        str(tmp_path / 'cache'), '--out',
        str(tmp_path / 'out')
    ])
    assert osp.isfile(tmp_path / 'out' / 'splits' / 'test.txt')
    with pytest.raises(UserError, match='not found'):
        tool_main(['--deb', str(tmp_path / 'missing.deb'), '--out', 'x'])
