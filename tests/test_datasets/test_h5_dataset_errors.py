"""Bad input: one clear error, at build time (or at load time for values)."""
import os.path as osp

import numpy as np
import pytest

from projects.aigcmatch.datasets import ACDCDataset, H5DataError

LOAD_ALL = [dict(type='LoadH5Image'), dict(type='LoadH5Annotations')]


def slice_path(root, case, z=0):
    return osp.join(root, 'data', 'slices', f'{case}_slice_{z}.h5')


def build(root, split, mode='labeled', **kwargs):
    return ACDCDataset(
        data_root=root,
        split=split,
        mode=mode,
        pipeline=LOAD_ALL
        if mode != 'unlabeled' else [dict(type='LoadH5Image')],
        **kwargs)


@pytest.fixture
def split_of(split_writer, tmp_path):

    def write(*ids):
        return split_writer(str(tmp_path / 'splits' / 'split.txt'), ids)

    return write


def test_missing_data_root(tmp_path, split_of):
    split = split_of('patient099')
    with pytest.raises(FileNotFoundError, match='data_root is not set'):
        ACDCDataset(split=split)
    with pytest.raises(
            FileNotFoundError, match=r"data_root '.*nowhere' is not a folder"):
        build(str(tmp_path / 'nowhere'), split)


def test_unknown_split_and_mode(acdc_root):
    with pytest.raises(
            FileNotFoundError,
            match=r"split 'labeled_2case' not found.*shipped "
            r'splits: labeled_1case'):
        build(acdc_root, 'labeled_2case')
    with pytest.raises(ValueError, match=r"mode='train'; expected one of"):
        build(acdc_root, 'val', mode='train')


@pytest.mark.parametrize('mode,where', [('labeled', 'slices'),
                                        ('volume', 'data')])
def test_patient_without_files(acdc_root, split_of, mode, where):
    split = split_of('patient099', 'patient123')
    with pytest.raises(
            FileNotFoundError,
            match=rf'split.txt names patient123, but .*{where} '
            'holds no file of it'):
        build(acdc_root, split, mode)


def test_prefix_that_is_not_a_case(acdc_root, split_of):
    # "patient09" must not pick up patient099's files.
    with pytest.raises(FileNotFoundError, match='names patient09, but'):
        build(acdc_root, split_of('patient09'))


def test_missing_keys(acdc_root, split_of, h5_writer):
    image = np.zeros((24, 20), np.float32)
    h5_writer(
        slice_path(acdc_root, 'patient200_frame01'),
        label=image.astype(np.uint8))
    split = split_of('patient200')
    with pytest.raises(
            H5DataError,
            match=r'patient200_frame01_slice_0.h5: no dataset '
            r'"image"'):
        build(acdc_root, split, 'unlabeled')
    h5_writer(slice_path(acdc_root, 'patient200_frame01'), image=image)
    with pytest.raises(
            H5DataError,
            match=r'patient200_frame01_slice_0.h5: no dataset '
            r'"label".*needed in mode'):
        build(acdc_root, split, 'labeled')
    assert len(build(acdc_root, split, 'unlabeled')) == 1


def test_shape_mismatch(acdc_root, split_of, h5_writer):
    h5_writer(
        slice_path(acdc_root, 'patient201_frame01'),
        image=np.zeros((24, 20), np.float32),
        label=np.zeros((20, 24), np.uint8))
    with pytest.raises(
            H5DataError,
            match=r'patient201_frame01_slice_0.h5: "label" has '
            r'shape \(20, 24\) but "image" has \(24, 20\)'):
        build(acdc_root, split_of('patient201'))


def test_volume_with_wrong_axes_or_spacing(acdc_root, split_of, h5_writer):
    h5_writer(
        osp.join(acdc_root, 'data', 'patient202_frame01.h5'),
        image=np.zeros((24, 20), np.float32),
        label=np.zeros((24, 20), np.uint8))
    with pytest.raises(
            H5DataError,
            match=r'patient202_frame01.h5: "image" '
            r'has shape \(24, 20\); expected a volume'):
        build(acdc_root, split_of('patient202'), 'volume')
    h5_writer(
        osp.join(acdc_root, 'data', 'patient202_frame01.h5'),
        attrs=dict(spacing=np.array([1., 2.])),
        image=np.zeros((2, 24, 20), np.float32),
        label=np.zeros((2, 24, 20), np.uint8))
    with pytest.raises(
            H5DataError,
            match='attribute "spacing".*expected 3 '
            'positive voxel sizes'):
        build(acdc_root, split_of('patient202'), 'volume')


def test_float_label_dtype(acdc_root, split_of, h5_writer):
    h5_writer(
        slice_path(acdc_root, 'patient203_frame01'),
        image=np.zeros((4, 4), np.float32),
        label=np.zeros((4, 4), np.float32))
    with pytest.raises(
            H5DataError, match='"label" has dtype float32; '
            'expected an integer'):
        build(acdc_root, split_of('patient203'))


def test_label_out_of_range(acdc_root, split_of, h5_writer):
    label = np.zeros((24, 20), np.uint8)
    label[3, 3] = 4
    h5_writer(
        slice_path(acdc_root, 'patient204_frame01'),
        image=np.zeros((24, 20), np.float32),
        label=label)
    split = split_of('patient204')
    with pytest.raises(
            H5DataError,
            match=r'patient204_frame01_slice_0.h5: "label" holds '
            r'value\(s\) \[4\]; expected class indices 0..3'):
        build(acdc_root, split, full_check=True)
    # The cheap build passes; the loader catches it when it meets the file.
    ds = build(acdc_root, split)
    with pytest.raises(
            H5DataError,
            match=r'patient204_frame01_slice_0.h5: '
            r'"label" holds value\(s\) \[4\]'):
        ds[0]


def test_nan_image(acdc_root, split_of, h5_writer):
    image = np.zeros((2, 24, 20), np.float32)
    image[1, 5, 5] = np.nan
    h5_writer(
        osp.join(acdc_root, 'data', 'patient205_frame01.h5'),
        image=image,
        label=np.zeros((2, 24, 20), np.uint8))
    split = split_of('patient205')
    with pytest.raises(
            H5DataError,
            match=r'patient205_frame01.h5: "image" '
            r'holds 1 NaN/inf value\(s\); expected finite'):
        build(acdc_root, split, 'volume', full_check=True)
    ds = build(acdc_root, split, 'volume')
    assert ds[0]['img'].shape == (24, 20)  # slice 0 is clean
    with pytest.raises(
            H5DataError,
            match=r'patient205_frame01.h5: "image" '
            'holds 1 NaN/inf'):
        ds[1]


def test_corrupt_file(acdc_root, split_of):
    with open(slice_path(acdc_root, 'patient206_frame01'), 'w') as f:
        f.write('not an h5 file')
    with pytest.raises(
            H5DataError,
            match=r'patient206_frame01_slice_0.h5: '
            'cannot be read as an HDF5 file'):
        build(acdc_root, split_of('patient206'))


def test_split_with_duplicates(acdc_root, split_of):
    split = split_of('patient099', 'patient038', 'patient099')
    with pytest.raises(
            ValueError,
            match=r"split.txt lists 'patient099' twice"
            r' \(lines 1 and 3\)'):
        build(acdc_root, split)


def test_split_naming_a_case_twice(acdc_root, split_of):
    split = split_of('patient099', 'patient099_frame02')
    with pytest.raises(
            ValueError,
            match=r"ids 'patient099' and "
            r"'patient099_frame02' both name case"):
        build(acdc_root, split)


def test_patient_on_both_sides(acdc_root, split_writer, tmp_path):
    labeled = split_writer(
        str(tmp_path / 'labeled.txt'), ['patient099', 'patient038'])
    unlabeled = split_writer(
        str(tmp_path / 'unlabeled.txt'), ['patient050', 'patient038_frame02'])
    with pytest.raises(
            ValueError,
            match=r'unlabeled.txt and split .*'
            r'labeled.txt share patient\(s\) patient038'):
        build(acdc_root, unlabeled, 'unlabeled', disjoint_with=labeled)
    ok = split_writer(str(tmp_path / 'ok.txt'), ['patient050'])
    assert len(
        build(
            acdc_root, ok, 'unlabeled', disjoint_with=[labeled, 'val',
                                                       'test'])) == 6
