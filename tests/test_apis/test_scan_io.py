"""Reading scans of every supported format and writing labels back in it."""
import os.path as osp

import cv2
import h5py
import nibabel as nib
import numpy as np
import pytest

from projects.aigcmatch.apis import (find_inputs, read_scan, scan_from_array,
                                     write_prediction)

AFFINE = np.array([[-1.5, 0.1, 0, 10.0], [0, 1.25, 0, -20.0], [0, 0, 8.0, 5.0],
                   [0, 0, 0, 1.0]])


def make_nifti(path, shape=(12, 10, 3), dtype=np.int16, affine=AFFINE, seed=0):
    data = np.random.default_rng(seed).integers(0, 500, shape).astype(dtype)
    img = nib.Nifti1Image(data, affine)
    img.set_qform(affine, code=1)
    img.set_sform(affine, code=2)
    img.header.set_xyzt_units('mm')
    nib.save(img, path)
    return data


def test_nifti_round_trip_keeps_geometry(tmp_path):
    src = str(tmp_path / 'case01.nii.gz')
    data = make_nifti(src)
    scan = read_scan(src)
    assert scan.fmt == 'nifti' and scan.case_id == 'case01'
    # (X, Y, Z) -> (D, H, W) = (Z, Y, X), spacing reversed to (sz, sy, sx)
    assert scan.image.shape == (3, 10, 12)
    np.testing.assert_array_equal(scan.image, data.transpose(2, 1, 0))
    zooms = nib.load(src).header.get_zooms()
    assert scan.spacing == pytest.approx(tuple(float(z) for z in zooms[::-1]))
    labels = (scan.image > 250).astype(np.uint8) * 3
    paths = write_prediction(
        scan,
        labels,
        str(tmp_path / 'out'),
        probs=np.ones((4, ) + labels.shape) / 4)
    out = nib.load(paths['labels'])
    assert paths['labels'].endswith('case01_seg.nii.gz')
    assert out.shape == (12, 10, 3)
    np.testing.assert_array_equal(out.affine, nib.load(src).affine)
    assert out.header.get_zooms() == zooms
    assert int(out.header['qform_code']) == 1
    assert int(out.header['sform_code']) == 2
    assert out.get_data_dtype() == np.uint8
    np.testing.assert_array_equal(
        np.asarray(out.dataobj), labels.transpose(2, 1, 0))
    probs = nib.load(paths['probs'])
    assert probs.shape == (12, 10, 3, 4)
    np.testing.assert_array_equal(probs.affine, out.affine)


def test_nifti_with_trailing_singleton_keeps_its_shape(tmp_path):
    src = str(tmp_path / 'single.nii')
    make_nifti(src, shape=(8, 6, 2, 1))
    scan = read_scan(src)
    assert scan.image.shape == (2, 6, 8)
    paths = write_prediction(scan, np.zeros(scan.image.shape, np.uint8),
                             str(tmp_path))
    assert paths['labels'].endswith('single_seg.nii')  # .nii in, .nii out
    assert nib.load(paths['labels']).shape == (8, 6, 2, 1)


def test_4d_nifti_is_refused_naming_the_file(tmp_path):
    src = str(tmp_path / 'cine_4d.nii.gz')
    make_nifti(src, shape=(8, 6, 2, 5))
    with pytest.raises(
            ValueError,
            match=r'cine_4d\.nii\.gz: expected a 3D '
            r'volume .* got a 4D array'):
        read_scan(src)


def test_h5_round_trip_keeps_attributes(tmp_path):
    src = str(tmp_path / 'patient001_frame01.h5')
    image = np.random.default_rng(1).random((3, 9, 7)).astype(np.float32)
    with h5py.File(src, 'w') as f:
        f.create_dataset('image', data=image)
        f.create_dataset('label', data=np.zeros((3, 9, 7), np.uint8))
        f.attrs['spacing'] = np.array([10.0, 1.5, 1.25])
        f.attrs['phase'] = 'ES'
    scan = read_scan(src)
    assert scan.spacing == (10.0, 1.5, 1.25) and scan.phase == 'ES'
    labels = np.full(image.shape, 2, np.uint8)
    paths = write_prediction(
        scan,
        labels,
        str(tmp_path / 'o'),
        probs=np.zeros((4, 3, 9, 7), np.float32))
    with h5py.File(paths['labels'], 'r') as f:
        np.testing.assert_array_equal(f['label'][()], labels)
        np.testing.assert_array_equal(f['image'][()], image)
        assert f['probs'].shape == (4, 3, 9, 7)
        np.testing.assert_array_equal(f.attrs['spacing'], [10.0, 1.5, 1.25])
        assert f.attrs['label_is_prediction']


def test_png_and_npy_slices(tmp_path):
    gray = np.random.default_rng(2).integers(0, 255, (11, 13)).astype(np.uint8)
    png = str(tmp_path / 'slice.png')
    cv2.imwrite(png, np.stack([gray] * 3, axis=2))  # gray stored as RGB
    scan = read_scan(png)
    np.testing.assert_array_equal(scan.image, gray.astype(np.float32))
    labels = (gray > 128).astype(np.uint8)
    out = write_prediction(scan, labels, str(tmp_path / 'o'))['labels']
    assert out.endswith('slice_seg.png')
    np.testing.assert_array_equal(
        cv2.imread(out, cv2.IMREAD_UNCHANGED), labels)

    npy = str(tmp_path / 'vol.npy')
    np.save(npy, np.zeros((2, 5, 4), np.float64))
    scan = read_scan(npy)
    out = write_prediction(scan, np.ones((2, 5, 4), np.uint8),
                           str(tmp_path / 'o'))['labels']
    assert np.load(out).shape == (2, 5, 4) and np.load(out).dtype == np.uint8


@pytest.mark.parametrize('name,content,pattern', [
    ('notes.txt', b'hello', r'notes\.txt: not a supported input'),
    ('broken.nii.gz', b'not a nifti', r'broken\.nii\.gz: not a readable '
     'NIfTI'),
    ('fake.png', b'not a png', r'fake\.png: not a readable PNG'),
    ('fake.h5', b'not hdf5', r'fake\.h5: not a readable HDF5'),
    ('fake.npy', b'not npy', r'fake\.npy: not a readable NPY'),
])
def test_not_an_image_is_one_clear_error(tmp_path, name, content, pattern):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ValueError, match=pattern):
        read_scan(str(path))


def test_bad_arrays_are_refused(tmp_path):
    npy = str(tmp_path / 'obj.npy')
    np.save(npy, np.array([{'a': 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match=r'obj\.npy: not a plain numeric'):
        read_scan(npy)
    nan = str(tmp_path / 'nan.npy')
    np.save(nan, np.full((3, 3), np.nan))
    with pytest.raises(ValueError, match=r'nan\.npy: the image holds NaN'):
        read_scan(nan)
    with pytest.raises(ValueError, match=r'expected a real \(H, W\) slice'):
        scan_from_array(np.zeros((1, 2, 3, 4)))
    with pytest.raises(FileNotFoundError, match='missing.nii.gz'):
        read_scan(str(tmp_path / 'missing.nii.gz'))


@pytest.mark.parametrize('shape', [(64, 48, 2), (64, 48, 3), (32, 32, 1)])
def test_trailing_channel_axis_is_refused(tmp_path, shape):
    # read as (D, H, W) it would be segmented as 64 slices of 48 x 2 pixels
    array = np.random.default_rng(0).random(shape).astype(np.float32)
    npy = str(tmp_path / 'two_channels.npy')
    np.save(npy, array)
    pattern = (rf'two_channels\.npy: shape \({shape[0]}, {shape[1]}, '
               rf'{shape[2]}\) looks like an \(H, W, C\) image with '
               rf'{shape[2]} channel\(s\) on the last axis; expected an '
               r'\(H, W\) slice or a \(D, H, W\) volume')
    with pytest.raises(ValueError, match=pattern):
        read_scan(npy)
    h5 = str(tmp_path / 'two_channels.h5')
    with h5py.File(h5, 'w') as f:
        f.create_dataset('image', data=array)
    with pytest.raises(ValueError, match=r'two_channels\.h5: shape'):
        read_scan(h5)
    with pytest.raises(ValueError, match=r'segment\(\) array: shape'):
        scan_from_array(array)
    # the same data as a volume of 2 slices, or one slice, is fine
    assert read_scan_array(tmp_path, array.transpose(2, 0, 1)).num_slices \
        == shape[2]
    assert scan_from_array(array[..., 0]).num_slices == 1


def read_scan_array(tmp_path, array):
    path = str(tmp_path / 'volume.npy')
    np.save(path, array)
    return read_scan(path)


def test_find_inputs_in_a_folder(tmp_path):
    for name in ('p1_frame01.nii.gz', 'p1_frame01_gt.nii.gz', 'p1_4d.nii.gz',
                 'p1_frame12.h5', 'readme.txt', 'x_seg.png'):
        (tmp_path / name).write_bytes(b'')
    files, skipped = find_inputs([str(tmp_path)])
    assert [osp.basename(f)
            for f in files] == ['p1_frame01.nii.gz', 'p1_frame12.h5']
    assert sorted(osp.basename(f) for f in skipped) == [
        'p1_4d.nii.gz', 'p1_frame01_gt.nii.gz', 'x_seg.png'
    ]
    # named explicitly, a _gt file is taken; the same case twice is refused
    files, _ = find_inputs([str(tmp_path / 'p1_frame01_gt.nii.gz')])
    assert len(files) == 1
    (tmp_path / 'sub').mkdir()
    (tmp_path / 'sub' / 'p1_frame12.npy').write_bytes(b'')
    with pytest.raises(ValueError, match="same case id 'p1_frame12'"):
        find_inputs([str(tmp_path), str(tmp_path / 'sub')])
    (tmp_path / 'empty').mkdir()
    with pytest.raises(ValueError, match='empty: folder holds no scan'):
        find_inputs([str(tmp_path / 'empty')])
    with pytest.raises(FileNotFoundError, match='nowhere: no such file'):
        find_inputs(['nowhere'])
