"""The synthetic ACDC-like generator and its CLI (32x32, a few patients)."""
import glob
import os.path as osp
import re

import h5py
import numpy as np
import pytest

from projects.aigcmatch.datasets.synthetic import (make_synthetic_acdc,
                                                   synthesize_patient)
from projects.aigcmatch.utils import UserError
from tools.generate_demo_data import main as generate_main

SIZE = (32, 32)


def _read(path):
    with h5py.File(path, 'r') as f:
        return f['image'][()], f['label'][()], dict(f.attrs)


@pytest.fixture(scope='module')
def demo(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('demo'))
    summary = make_synthetic_acdc(
        root, num_patients=4, image_size=SIZE, seed=3)
    return root, summary


def test_layout_keys_dtypes_and_ranges(demo):
    root, summary = demo
    volumes = sorted(glob.glob(osp.join(root, 'data', '*.h5')))
    assert [osp.basename(v) for v in volumes] == [
        f'patient{n:03d}_{f}.h5' for n in range(1, 5)
        for f in ('frame01', 'frame12')
    ]
    total_slices = 0
    for path in volumes:
        image, label, attrs = _read(path)
        assert image.dtype == np.float32 and label.dtype == np.uint8
        assert image.ndim == 3 and image.shape == label.shape
        d, h, w = image.shape
        assert 8 <= d <= 10
        assert 0.9 * SIZE[0] - 1 <= h <= 1.1 * SIZE[0] + 1
        assert 0.9 * SIZE[1] - 1 <= w <= 1.1 * SIZE[1] + 1
        # min-max normalised per volume
        assert image.min() == 0.0 and image.max() == 1.0
        assert set(np.unique(label)) <= {0, 1, 2, 3}
        spacing = attrs['spacing']
        assert spacing.shape == (3, ) and np.all(spacing > 0)
        # through-plane 5-10 mm like ACDC; in-plane from a 170-230 mm view
        assert 5.0 <= spacing[0] <= 10.0 and spacing[1] == spacing[2]
        assert 170.0 <= spacing[1] * min(h, w) <= 230.0
        case_id = osp.basename(path)[:-3]
        slice_files = glob.glob(
            osp.join(root, 'data', 'slices', f'{case_id}_slice_*.h5'))
        assert len(slice_files) == d
        for k in range(d):
            s_img, s_lab, _ = _read(
                osp.join(root, 'data', 'slices', f'{case_id}_slice_{k}.h5'))
            assert s_img.dtype == np.float32 and s_lab.dtype == np.uint8
            np.testing.assert_array_equal(s_img, image[k])
            np.testing.assert_array_equal(s_lab, label[k])
        total_slices += d
    assert summary == dict(
        root=root,
        num_patients=4,
        num_volumes=8,
        num_slices=total_slices,
        class_fraction=summary['class_fraction'])
    all_slices = glob.glob(osp.join(root, 'data', 'slices', '*.h5'))
    assert len(all_slices) == total_slices
    assert abs(sum(summary['class_fraction']) - 1.0) < 1e-3
    assert all(0.005 < f < 0.1 for f in summary['class_fraction'][1:])


def test_every_class_in_most_slices_and_anatomy():
    presence, ef = [], []
    for n in range(1, 9):
        case = synthesize_patient(n, image_size=SIZE, seed=0)
        ed, es = case['frame01']['label'], case['frame12']['label']
        for lab in (ed, es):
            presence += [[(sl == c).any() for c in range(4)] for sl in lab]
            # RV reaches the base but not the apex
            assert (lab[0] == 1).any() and not (lab[-1] == 1).any()
        # systole: smaller LV cavity, same myocardium volume (thicker wall)
        lv_ed, lv_es = (ed == 3).sum(), (es == 3).sum()
        ef.append(1 - lv_es / lv_ed)
        assert abs((es == 2).sum() / (ed == 2).sum() - 1) < 0.35
        # structures shrink towards the apex
        assert (ed[0] == 3).sum() > (ed[-1] == 3).sum()
    presence = np.array(presence).mean(0)
    assert presence[2] > 0.95 and presence[3] > 0.95
    assert 0.6 < presence[1] < 0.95
    assert 0.1 < min(ef) and max(ef) < 0.85 and 0.4 < np.median(ef) < 0.75


def test_not_solvable_by_thresholding():
    # unlabelled bright tissue (aorta, fat, fluid) and noise: even the best
    # global threshold per volume segments the blood pools (RV + LV) poorly
    for n in range(1, 5):
        vol = synthesize_patient(n, image_size=(64, 64))['frame01']
        blood = np.isin(vol['label'], (1, 3))
        best = max(2 * (m & blood).sum() / (m.sum() + blood.sum())
                   for m in (vol['image'] > t
                             for t in np.linspace(0.05, 0.95, 37)))
        assert best < 0.8


def test_patients_differ_in_appearance():
    stats = []
    for n in range(1, 7):
        vol = synthesize_patient(n, image_size=SIZE, seed=0)['frame01']
        img, lab = vol['image'], vol['label']
        stats.append(
            (img[lab == 3].mean(), img[lab == 2].mean(), img.shape[1:]))
    lv_means = [s[0] for s in stats]
    assert max(lv_means) - min(lv_means) > 0.1
    # blood is brighter than myocardium in every patient: contrast varies,
    # physics does not
    assert all(s[0] > s[1] + 0.1 for s in stats)
    assert len({s[2] for s in stats}) > 1


def test_deterministic_and_independent_of_num_patients(tmp_path):
    a = make_synthetic_acdc(
        str(tmp_path / 'a'), num_patients=2, image_size=SIZE, seed=7)
    b = make_synthetic_acdc(
        str(tmp_path / 'b'), num_patients=2, image_size=SIZE, seed=7)
    assert a['num_slices'] == b['num_slices']
    for name in ('patient001_frame01.h5', 'patient002_frame12.h5'):
        ia, la, _ = _read(str(tmp_path / 'a' / 'data' / name))
        ib, lb, _ = _read(str(tmp_path / 'b' / 'data' / name))
        np.testing.assert_array_equal(ia, ib)
        np.testing.assert_array_equal(la, lb)
    one = synthesize_patient(2, image_size=SIZE, seed=7)['frame12']
    np.testing.assert_array_equal(one['label'], lb)
    other = synthesize_patient(2, image_size=SIZE, seed=8)['frame12']
    assert (other['image'].shape != one['image'].shape
            or not np.array_equal(other['image'], one['image']))


def test_frames_argument():
    case = synthesize_patient(
        1, image_size=SIZE, frames=('frame01', 'frame05', 'frame10'))
    assert list(case) == ['frame01', 'frame05', 'frame10']
    lv = [(case[f]['label'] == 3).sum() for f in case]
    assert lv[0] > lv[1] > lv[2]


def test_refuses_to_overwrite(tmp_path):
    make_synthetic_acdc(str(tmp_path), num_patients=2, image_size=SIZE)
    with pytest.raises(
            FileExistsError, match=r'already holds .*overwrite=True'):
        make_synthetic_acdc(str(tmp_path), num_patients=1, image_size=SIZE)
    summary = make_synthetic_acdc(
        str(tmp_path), num_patients=1, image_size=SIZE, overwrite=True)
    # stale files of the larger set are gone
    volumes = glob.glob(str(tmp_path / 'data' / '*.h5'))
    assert sorted(osp.basename(p) for p in volumes) == [
        'patient001_frame01.h5', 'patient001_frame12.h5'
    ]
    slices = glob.glob(str(tmp_path / 'data' / 'slices' / '*.h5'))
    assert len(slices) == summary['num_slices']


@pytest.mark.parametrize('kwargs, match', [
    (dict(num_patients=0), 'num_patients must be an int in 1..999'),
    (dict(num_patients=1000), 'num_patients must be an int in 1..999'),
    (dict(image_size=(8, 32)), r'image_size must be two ints >= 16'),
    (dict(image_size=(32, )), r'image_size must be two ints >= 16'),
    (dict(slices=(5, 3)), r'slices must be two ints \(min, max\)'),
    (dict(frames=('frame01', 'frame01')),
     'frames must be a non-empty sequence of distinct'),
    (dict(frames='frame01'),
     'frames must be a non-empty sequence of distinct'),
    (dict(frames=('frame_01', )),
     'frames must be a non-empty sequence of distinct'),
])
def test_bad_arguments(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_synthetic_acdc(str(tmp_path), **kwargs)
    assert not osp.exists(tmp_path / 'data')


def test_cli(tmp_path, capsys):
    out = str(tmp_path / 'demo')
    tiny = ['--size', '32', '32']
    assert generate_main(['--out', out, '--num-patients', '2', '--seed', '1'] +
                         tiny) == 0
    assert re.search(r'wrote 4 volumes and \d+ slices of 2 patients',
                     capsys.readouterr().out)
    with pytest.raises(UserError, match='is not empty; pass --overwrite'):
        generate_main(['--out', out, '--num-patients', '1'] + tiny)
    assert len(glob.glob(osp.join(out, 'data', '*.h5'))) == 4
    assert generate_main(['--out', out, '--num-patients', '1', '--overwrite'] +
                         tiny) == 0
    assert len(glob.glob(osp.join(out, 'data', '*.h5'))) == 2
