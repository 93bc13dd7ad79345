"""Intensity normalisation: min-max on clean scans to the bit, robust to one
extreme voxel (which plain min-max turns into a blank scan)."""
import os.path as osp
import warnings

import nibabel as nib
import numpy as np
import pytest

from projects.aigcmatch.datasets.io.intensity import (IntensityNorm,
                                                      IntensityOutlierWarning,
                                                      minmax_normalise,
                                                      normalise_intensity)
from projects.aigcmatch.datasets.io.nifti import load_case
from projects.aigcmatch.datasets.synthetic import synthesize_patient

FIXTURE = osp.join(
    osp.dirname(osp.dirname(osp.abspath(__file__))), 'data', 'totalseg_ct')


def mri_like(seed=0):
    """A synthetic cine-MRI volume on an MRI-like intensity scale."""
    image = synthesize_patient(1, (48, 40), (4, 4), seed=seed)['frame01'][
        'image']
    return (image * 800 + 20).astype(np.float32)


def no_warning(image, norm=None):
    with warnings.catch_warnings():
        warnings.simplefilter('error', IntensityOutlierWarning)
        return normalise_intensity(image, norm)


@pytest.mark.parametrize('name', ['mri', 'ct'])
def test_clean_scans_are_minmax_to_the_bit(name):
    if name == 'mri':
        image = mri_like()
    else:
        image = np.asanyarray(
            nib.load(osp.join(FIXTURE, 'image.nii.gz')).dataobj).astype(
                np.float32)
    out, info = no_warning(image)
    expected, (lo, hi) = minmax_normalise(image)
    np.testing.assert_array_equal(out, expected)
    assert (info.low, info.high, info.num_far) == (lo, hi, 0)


@pytest.mark.parametrize('value', [1e30, -1e30, 65535.0])
def test_one_extreme_voxel_changes_nothing_else(value):
    clean = mri_like()
    bad = clean.copy()
    bad[1, 20, 17] = value
    with pytest.warns(
            IntensityOutlierWarning,
            match=r'scan\.nii: 1 voxel\(s\) far outside the intensity range '
            r'of the rest .* were replaced by the median of their in-plane '
            r'3x3 neighbourhood'):
        out, info = normalise_intensity(bad, source='scan.nii')
    expected, _ = minmax_normalise(clean)
    others = np.ones(clean.shape, bool)
    others[1, 20, 17] = False
    np.testing.assert_array_equal(out[others], expected[others])
    window = expected[1, 19:22, 16:19].ravel()
    window = np.delete(window, 4)  # the voxel itself is garbage
    assert window.min() <= out[1, 20, 17] <= window.max()
    assert info.num_far == 1 and info.num_clipped == 1
    # what the default replaces: plain min-max squashes the scan
    with pytest.warns(IntensityOutlierWarning, match='squash'):
        squashed, _ = normalise_intensity(bad, 'minmax', source='scan.nii')
    # the rest of the scan is left with less than 2 % of the range
    assert np.ptp(squashed[others]) < 0.02


def test_percentile_clips_to_the_percentiles():
    image = mri_like()
    out, info = no_warning(image, dict(method='percentile',
                                       percentiles=(1.0, 99.0)))
    lo, hi = np.percentile(image, (1.0, 99.0))
    assert (info.low, info.high) == pytest.approx((lo, hi))
    assert out.min() == 0.0 and out.max() == 1.0
    assert np.mean(out == 1.0) == pytest.approx(0.01, abs=0.005)


def test_constant_and_mostly_constant_images():
    out, info = no_warning(np.full((3, 4, 4), 7.0, np.float32))
    assert (out == 0).all() and info.num_far == 0
    # > 99.5 % equal: no spread to judge outliers by, plain min-max
    image = np.zeros((20, 20, 20), np.float32)
    image[0, 0, :3] = 100.0
    out, _ = no_warning(image)
    np.testing.assert_array_equal(out, minmax_normalise(image)[0])


@pytest.mark.parametrize('value, match', [
    ('zscore', r"intensity_norm\.method='zscore'; expected one of"),
    (dict(percentiles=(99, 1)), r'intensity_norm\.percentiles=.*0 <= low'),
    (dict(outlier_factor=0), r'intensity_norm\.outlier_factor=0'),
    (dict(method='minmax', clip=3), r"unknown key\(s\) \['clip'\]"),
    (3, r'intensity_norm=3; expected a method name'),
])
def test_bad_settings_are_one_clear_error(value, match):
    with pytest.raises(ValueError, match=match):
        IntensityNorm.from_config(value)


def test_converter_clips_one_bad_voxel_of_a_training_case(tmp_path):
    clean = mri_like().transpose(2, 1, 0)  # NIfTI (X, Y, Z)
    bad = clean.copy()
    bad[3, 5, 1] = 1e30
    paths = {}
    for name, data in (('clean', clean), ('bad', bad)):
        paths[name] = str(tmp_path / f'{name}.nii.gz')
        nib.save(nib.Nifti1Image(data, np.eye(4)), paths[name])
    reference = load_case(paths['clean'], None)
    with pytest.warns(IntensityOutlierWarning, match=r'bad\.nii\.gz: 1 '):
        case = load_case(paths['bad'], None)
    assert case['intensity_norm'] == 'robust_minmax'
    assert case['intensity_range'] == reference['intensity_range']
    differ = case['image'] != reference['image']
    assert differ.sum() <= 1 and not differ[:, :, :3].any()
    # UniMatch's exact scheme stays available
    with pytest.warns(IntensityOutlierWarning, match='squash'):
        squashed = load_case(paths['bad'], None, norm='minmax')
    assert squashed['image'].max() == 1.0
    assert np.percentile(squashed['image'], 99.9) < 1e-20


def test_converter_cli_records_the_scheme_and_warns_in_one_line(
        tmp_path, capsys):
    import h5py

    from tools.dataset_converters.nifti_to_h5 import main as nifti_main
    image = nib.load(osp.join(FIXTURE, 'image.nii.gz'))
    label = nib.load(osp.join(FIXTURE, 'label.nii.gz'))
    src = tmp_path / 'src'
    src.mkdir()
    data = np.asanyarray(image.dataobj).astype(np.float32)
    data[0, 0, 0] = 1e30
    nib.save(nib.Nifti1Image(data, image.affine), str(src / 'ct.nii.gz'))
    nib.save(label, str(src / 'ct_gt.nii.gz'))
    for norm in ('robust_minmax', 'percentile'):
        out = tmp_path / norm
        assert nifti_main([
            '--images', str(src), '--out', str(out), '--no-slices',
            '--split-ratios', '1', '0', '0', '--norm', norm
        ]) == 0
        err = capsys.readouterr().err
        assert (f'warning: {src / "ct.nii.gz"}: 1 voxel(s) far outside the '
                'intensity range of the rest') in err
        with h5py.File(str(out / 'data' / 'ct.h5')) as f:
            assert f.attrs['intensity_norm'] == norm
            assert f['image'][()].max() == 1.0
            # not squashed: the CT's contrast survives
            assert np.percentile(f['image'][()], 50) > 0.05
