"""NIfTI <-> h5 converters, on the CT fixture in tests/data/totalseg_ct."""
import glob
import os
import os.path as osp
import subprocess
import sys

import h5py
import nibabel as nib
import numpy as np
import pytest

from projects.aigcmatch.datasets.converters import convert_acdc, convert_pairs
from projects.aigcmatch.datasets.io import (ConversionError, dhw_to_nifti,
                                            find_acdc_cases, find_nifti_pairs,
                                            h5_to_nifti, load_case,
                                            read_h5_volume, read_pairs_csv)
from projects.aigcmatch.datasets.split_files import make_splits
from tools.dataset_converters.acdc_nifti_to_h5 import main as acdc_main
from tools.dataset_converters.h5_to_nifti import main as h5_to_nifti_main
from tools.dataset_converters.nifti_to_h5 import main as nifti_main

TESTS = osp.dirname(osp.dirname(osp.abspath(__file__)))
ROOT = osp.dirname(TESTS)
FIXTURE = osp.join(TESTS, 'data', 'totalseg_ct')
IMAGE = osp.join(FIXTURE, 'image.nii.gz')
LABEL = osp.join(FIXTURE, 'label.nii.gz')


@pytest.fixture(scope='module')
def ct():
    img, lab = nib.load(IMAGE), nib.load(LABEL)
    return img, lab, np.asanyarray(img.dataobj), np.asanyarray(lab.dataobj)


def _save(arr, affine, path):
    nib.save(nib.Nifti1Image(arr, affine), path)
    return str(path)


def _oblique_affine():
    # anisotropic zooms, a flipped axis and a rotation: an axis mix-up shows
    t = np.deg2rad(20)
    rot = np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t),
                                                 np.cos(t), 0], [0, 0, 1]])
    aff = np.eye(4)
    aff[:3, :3] = rot @ np.diag([-1, 1, 1]) @ np.diag([1.5, 2.0, 5.0])
    aff[:3, 3] = (10.0, -20.0, 30.0)
    return aff


def test_fixture_is_small_real_and_licensed(ct):
    img, lab, image, label = ct
    assert image.shape == label.shape == (96, 67, 10)
    assert image.dtype == np.int16
    # real Hounsfield units: air to bone
    assert image.min() < -500 and image.max() > 500
    assert sorted(np.unique(label).tolist()) == [0, 1, 2, 3]
    assert np.allclose(img.affine, lab.affine)
    assert img.header.get_zooms() == (3.0, 3.0, 3.0)
    total = sum(osp.getsize(p) for p in glob.glob(osp.join(FIXTURE, '*')))
    assert total < 3 * 2**20
    readme = open(osp.join(FIXTURE, 'README.md')).read()
    assert 'Apache License, Version 2.0' in readme
    assert 'TotalSegmentator 2.18.0' in readme
    assert 'Apache License' in open(osp.join(FIXTURE, 'LICENSE')).read()


def test_round_trip_fixture(ct, tmp_path):
    img, lab, image, label = ct
    summary = convert_pairs([('ct', IMAGE, LABEL)],
                            str(tmp_path),
                            num_classes=4,
                            ratios=None)
    assert summary['num_cases'] == 1 and summary['num_slices'] == 10
    assert summary['labels_found'] == [0, 1, 2, 3]
    vol = read_h5_volume(str(tmp_path / 'data' / 'ct.h5'))
    # (X, Y, Z) -> (D, H, W) = (Z, Y, X)
    assert vol['image'].shape == vol['label'].shape == (10, 67, 96)
    assert vol['image'].dtype == np.float32
    assert vol['label'].dtype == np.uint8
    np.testing.assert_array_equal(vol['label'], label.transpose(2, 1, 0))
    assert vol['image'].min() == 0.0 and vol['image'].max() == 1.0
    assert tuple(vol['intensity_range']) == (image.min(), image.max())
    np.testing.assert_allclose(vol['spacing'], (3.0, 3.0, 3.0))
    slice_dir = tmp_path / 'data' / 'slices'
    assert len(os.listdir(slice_dir)) == 10
    for k in range(10):
        with h5py.File(str(slice_dir / f'ct_slice_{k}.h5'), 'r') as f:
            np.testing.assert_array_equal(f['image'][()], vol['image'][k])
            np.testing.assert_array_equal(f['label'][()], vol['label'][k])

    h5_to_nifti(
        str(tmp_path / 'data' / 'ct.h5'),
        label_path=str(tmp_path / 'l.nii.gz'),
        image_path=str(tmp_path / 'i.nii.gz'))
    back_lab = nib.load(str(tmp_path / 'l.nii.gz'))
    back_img = nib.load(str(tmp_path / 'i.nii.gz'))
    np.testing.assert_array_equal(np.asanyarray(back_lab.dataobj), label)
    # int16 source, no clipping: the image comes back exactly too
    np.testing.assert_array_equal(np.asanyarray(back_img.dataobj), image)
    assert back_img.get_data_dtype() == np.int16
    assert back_lab.get_data_dtype() == np.uint8
    for back in (back_lab, back_img):
        np.testing.assert_allclose(back.affine, img.affine)
        assert back.header.get_zooms() == img.header.get_zooms()
        assert nib.aff2axcodes(back.affine) == nib.aff2axcodes(img.affine)
        for code in ('sform_code', 'qform_code'):
            assert int(back.header[code]) == int(img.header[code])


def test_round_trip_oblique_anisotropic(ct, tmp_path):
    _, _, image, label = ct
    aff = _oblique_affine()
    image_path = _save(image, aff, tmp_path / 'obl.nii.gz')
    label_path = _save(label, aff, tmp_path / 'obl_gt.nii.gz')
    case = load_case(image_path, label_path)
    # spacing in the h5 axis order (D, H, W) = (z, y, x): zooms reversed
    np.testing.assert_allclose(case['spacing'], (5.0, 2.0, 1.5))
    convert_pairs([('obl', image_path, label_path)],
                  str(tmp_path / 'out'),
                  ratios=None,
                  slices=False)
    assert not osp.exists(tmp_path / 'out' / 'data' / 'slices')
    h5_to_nifti(
        str(tmp_path / 'out' / 'data' / 'obl.h5'),
        label_path=str(tmp_path / 'back.nii.gz'))
    back = nib.load(str(tmp_path / 'back.nii.gz'))
    np.testing.assert_array_equal(np.asanyarray(back.dataobj), label)
    np.testing.assert_allclose(back.affine, aff, atol=1e-5)
    np.testing.assert_allclose(
        back.header.get_zooms(), (1.5, 2.0, 5.0), atol=1e-5)
    # a prediction without the source affine still gets the voxel size
    pred = dhw_to_nifti(case['label'], spacing=case['spacing'])
    np.testing.assert_allclose(pred.header.get_zooms(), (1.5, 2.0, 5.0))
    assert pred.shape == label.shape


def test_trailing_singleton_axis_and_clip(ct, tmp_path):
    img, _, image, _ = ct
    path = _save(image[..., None], img.affine, tmp_path / 'x.nii.gz')
    case = load_case(path, LABEL, clip=(-200, 300))
    assert case['image'].shape == (10, 67, 96)
    assert case['intensity_range'] == (-200.0, 300.0)
    assert case['source_dtype'] == 'float32'


def _fake_acdc(root,
               ct,
               patients=('training/patient001', 'training/patient002',
                         'testing/patient101')):
    """A raw ACDC tree from the fixture: ED = the CT, ES = the CT shifted."""
    img, _, image, label = ct
    frames = {
        1: (image, label),
        12: (np.roll(image, 3, 0), np.roll(label, 3, 0))
    }
    for rel in patients:
        pdir = root / rel
        pdir.mkdir(parents=True)
        pid = osp.basename(rel)
        for f, (im, lb) in frames.items():
            _save(im, img.affine, pdir / f'{pid}_frame{f:02d}.nii.gz')
            _save(lb, img.affine, pdir / f'{pid}_frame{f:02d}_gt.nii.gz')
        cine = np.stack([frames[1][0], frames[12][0]], -1)
        _save(cine, img.affine, pdir / f'{pid}_4d.nii.gz')
        (pdir / 'Info.cfg').write_text(
            'ED: 1\nES: 12\nGroup: DCM\nHeight: 184.0\nNbFrame: 30\n'
            'Weight: 95.0\n')
    return root


def test_acdc_converter(ct, tmp_path):
    raw = _fake_acdc(tmp_path / 'raw', ct)
    out = tmp_path / 'ACDC'
    assert acdc_main([str(raw), '--out', str(out)]) == 0
    names = sorted(osp.basename(p) for p in glob.glob(str(out / 'data/*.h5')))
    assert names == [
        f'{p}_frame{f}.h5' for p in ('patient001', 'patient002', 'patient101')
        for f in ('01', '12')
    ]
    slices = glob.glob(str(out / 'data/slices/patient002_frame12_slice_*.h5'))
    assert len(slices) == 10
    es = read_h5_volume(str(out / 'data' / 'patient002_frame12.h5'))
    assert es['phase'] == 'ES' and es['group'] == 'DCM'
    np.testing.assert_array_equal(es['label'],
                                  np.roll(ct[3], 3, 0).transpose(2, 1, 0))
    np.testing.assert_allclose(es['spacing'], (3.0, 3.0, 3.0))
    ed = read_h5_volume(str(out / 'data' / 'patient001_frame01.h5'))
    assert ed['phase'] == 'ED'
    # no leftovers of the atomic write
    assert sorted(os.listdir(out)) == ['data']

    cases = find_acdc_cases(str(raw), subsets=('training', ))
    assert [c[0] for c in cases] == [
        'patient001_frame01', 'patient001_frame12', 'patient002_frame01',
        'patient002_frame12'
    ]
    with pytest.raises(
            FileExistsError, match=r'ACDC/data already exists .*--overwrite'):
        convert_acdc(str(raw), str(out), subsets=('training', ))
    summary = convert_acdc(
        str(raw), str(out), subsets=('training', ), overwrite=True)
    assert summary == dict(
        num_cases=4, num_patients=2, num_slices=40, labels_found=[0, 1, 2, 3])
    assert len(glob.glob(str(out / 'data' / '*.h5'))) == 4


def test_acdc_flat_layout_and_bad_inputs(ct, tmp_path):
    raw = _fake_acdc(tmp_path / 'raw', ct, patients=('patient003', ))
    assert len(find_acdc_cases(str(raw))) == 2
    pdir = raw / 'patient003'
    os.remove(pdir / 'patient003_frame12_gt.nii.gz')
    with pytest.raises(
            ConversionError,
            match=r'patient003_frame12_gt\.nii\.gz: missing _gt'):
        convert_acdc(str(raw), str(tmp_path / 'out'))
    assert not osp.exists(tmp_path / 'out' / 'data')
    os.remove(pdir / 'patient003_frame12.nii.gz')
    with pytest.raises(
            ConversionError,
            match=r'Info\.cfg: ES is frame 12, but patient003_fr'):
        find_acdc_cases(str(raw))
    with pytest.raises(ConversionError, match='found no patientXXX folders'):
        find_acdc_cases(str(tmp_path))


def test_acdc_4d_frame_and_bad_label_values(ct, tmp_path):
    img, _, image, label = ct
    raw = _fake_acdc(tmp_path / 'raw', ct, patients=('training/patient004', ))
    pdir = raw / 'training' / 'patient004'
    _save(
        np.stack([image, image], -1), img.affine,
        pdir / 'patient004_frame01.nii.gz')
    with pytest.raises(
            ConversionError,
            match=r'patient004_frame01\.nii\.gz: expected a 3D'):
        convert_acdc(str(raw), str(tmp_path / 'out'))
    _save(image, img.affine, pdir / 'patient004_frame01.nii.gz')
    _save(label * 2, img.affine, pdir / 'patient004_frame01_gt.nii.gz')
    with pytest.raises(
            ConversionError,
            match=r'label values \[4, 6\] found, expected values '
            r'in 0\.\.3'):
        convert_acdc(str(raw), str(tmp_path / 'out'))
    assert not osp.exists(tmp_path / 'out' / 'data')


@pytest.mark.parametrize('make_label, match', [
    (lambda lab: lab[:, :, :5],
     r'bad\.nii\.gz: label shape \(96, 67, 5\) does not match the image'),
    (lambda lab: lab.astype(np.float32) * 0.5,
     r'bad\.nii\.gz: labels must be integers'),
    (lambda lab: lab.astype(np.int16) - 1,
     r'bad\.nii\.gz: label values must be in 0\.\.255'),
    (lambda lab: np.stack([lab, lab], -1),
     r'bad\.nii\.gz: expected a 3D volume \(X, Y, Z\), got a 4D'),
])
def test_bad_label_files(ct, tmp_path, make_label, match):
    bad = _save(make_label(ct[3]), ct[0].affine, tmp_path / 'bad.nii.gz')
    with pytest.raises(ConversionError, match=match):
        load_case(IMAGE, bad)


def test_other_bad_inputs(ct, tmp_path):
    img, _, image, label = ct
    with pytest.raises(
            ConversionError, match=r'nope_gt\.nii\.gz: label file not found'):
        load_case(IMAGE, str(tmp_path / 'nope_gt.nii.gz'))
    four = _save(
        np.stack([image, image], -1), img.affine, tmp_path / 'four.nii.gz')
    with pytest.raises(
            ConversionError,
            match=r'four\.nii\.gz: expected a 3D volume .* 4D'):
        load_case(four, LABEL)
    moved = img.affine.copy()
    moved[0, 3] += 7.5
    shifted = _save(label, moved, tmp_path / 'shifted.nii.gz')
    with pytest.raises(
            ConversionError, match=r'shifted\.nii\.gz: label affine differs'):
        load_case(IMAGE, shifted)
    (tmp_path / 'broken.nii.gz').write_bytes(b'not a nifti')
    with pytest.raises(
            ConversionError, match=r'broken\.nii\.gz: not a readable NIfTI'):
        load_case(str(tmp_path / 'broken.nii.gz'), LABEL)
    with pytest.raises(
            ConversionError,
            match=r'label values \[3\] found, expected values in '
            r'0\.\.2 \(num_classes=3\)'):
        load_case(IMAGE, LABEL, num_classes=3)
    with pytest.raises(ConversionError, match="case id 'a' appears twice"):
        convert_pairs([('a', IMAGE, LABEL), ('a', IMAGE, LABEL)],
                      str(tmp_path / 'o'))


def test_pattern_and_csv_pairing(ct, tmp_path):
    img, _, image, label = ct
    images, labels = tmp_path / 'imagesTr', tmp_path / 'labelsTr'
    images.mkdir()
    labels.mkdir()
    for c in ('c1', 'c2'):
        _save(image, img.affine, images / f'{c}_0000.nii.gz')
        _save(label, img.affine, labels / f'{c}.nii.gz')
    nnunet = (str(images), str(labels), '{case}_0000.nii.gz', '{case}.nii.gz')
    assert [p[0] for p in find_nifti_pairs(*nnunet)] == ['c1', 'c2']
    # one folder, ACDC-style names (the defaults): labels are not images
    flat = tmp_path / 'flat'
    flat.mkdir()
    for c in ('p1', 'p2'):
        _save(image, img.affine, flat / f'{c}.nii.gz')
        _save(label, img.affine, flat / f'{c}_gt.nii.gz')
    assert [p[0] for p in find_nifti_pairs(str(flat))] == ['p1', 'p2']
    with pytest.raises(
            ConversionError, match='image and label patterns are identical'):
        find_nifti_pairs(
            str(flat),
            image_pattern='{case}.nii.gz',
            label_pattern='{case}.nii.gz')
    _save(image, img.affine, images / 'c3_0000.nii.gz')
    with pytest.raises(
            ConversionError,
            match=r'labelsTr/c3\.nii\.gz: label file not found'):
        find_nifti_pairs(*nnunet)
    with pytest.raises(
            ConversionError, match=r"containing '\{case\}' exactly once"):
        find_nifti_pairs(str(images), image_pattern='img.nii.gz')

    csv_path = tmp_path / 'pairs.csv'
    csv_path.write_text('image,label,case\n'
                        'imagesTr/c1_0000.nii.gz,labelsTr/c1.nii.gz,first\n'
                        f'{images}/c2_0000.nii.gz,labelsTr/c2.nii.gz,\n')
    assert read_pairs_csv(str(csv_path)) == [
        ('first', str(images / 'c1_0000.nii.gz'), str(labels / 'c1.nii.gz')),
        ('c2_0000', str(images / 'c2_0000.nii.gz'), str(labels / 'c2.nii.gz'))
    ]
    (tmp_path / 'bad.csv').write_text('img,seg\na,b\n')
    with pytest.raises(
            ConversionError,
            match=r"bad\.csv: expected a header line with columns "
            r"'image,label'"):
        read_pairs_csv(str(tmp_path / 'bad.csv'))


def test_make_splits():
    ids = [
        f'patient{p:03d}_frame{f:02d}' for p in range(1, 21) for f in (1, 12)
    ]
    s = make_splits(
        ids, (0.7, 0.1, 0.2),
        seed=0,
        group_pattern=r'^patient\d+',
        num_labeled=2)
    assert sorted(s['train'] + s['val'] + s['test']) == sorted(ids)
    assert [len(s[k]) for k in ('train', 'val', 'test')] == [28, 4, 8]
    patients = {k: {c.split('_')[0] for c in v} for k, v in s.items()}
    assert not patients['train'] & patients['val']
    assert not patients['train'] & patients['test']
    assert len(patients['labeled']) == 2
    assert sorted(s['labeled'] + s['unlabeled']) == s['train']
    again = make_splits(ids, seed=0, group_pattern=r'^patient\d+')
    assert again == {k: s[k] for k in ('train', 'val', 'test')}
    assert make_splits(ids, seed=1)['test'] != make_splits(ids)['test']
    assert len(make_splits(ids[:2], (0.7, 0.1, 0.2))['train']) >= 1
    with pytest.raises(
            ConversionError, match='split ratios must be three non-negative'):
        make_splits(ids, (0.5, 0.5))
    with pytest.raises(ConversionError, match=r'num_labeled must be in 1\.\.'):
        make_splits(ids, num_labeled=100)


def test_nifti_to_h5_cli(ct, tmp_path, capsys):
    img, _, image, label = ct
    src = tmp_path / 'src'
    src.mkdir()
    for i in range(5):
        _save(np.roll(image, i, 0), img.affine, src / f'case{i}.nii.gz')
        _save(np.roll(label, i, 0), img.affine, src / f'case{i}_gt.nii.gz')
    out = tmp_path / 'set'
    args = [
        '--images',
        str(src), '--out',
        str(out), '--num-classes', '4', '--num-labeled', '1', '--split-ratios',
        '0.6', '0.2', '0.2', '--seed', '3', '--no-slices'
    ]
    assert nifti_main(args) == 0
    captured = capsys.readouterr()
    assert 'converted 5 cases' in captured.out
    assert 'warning' not in captured.err
    names = ('train', 'val', 'test', 'labeled', 'unlabeled')
    splits = {
        n: (out / 'splits' / f'{n}.txt').read_text().split()
        for n in names
    }
    assert [len(splits[n]) for n in names] == [3, 1, 1, 1, 2]
    assert sorted(splits['train'] + splits['val'] +
                  splits['test']) == [f'case{i}' for i in range(5)]
    assert len(glob.glob(str(out / 'data' / '*.h5'))) == 5
    assert not osp.exists(out / 'data' / 'slices')

    assert nifti_main([
        '--images',
        str(src), '--out',
        str(tmp_path / 'six'), '--num-classes', '6', '--no-slices'
    ]) == 0
    err = capsys.readouterr().err
    assert 'warning: classes [4, 5] of 0..5 occur in no label map' in err

    with pytest.raises(FileExistsError,
                       match='already exists and is not empty; pass '
                       '--overwrite'):
        nifti_main(args)
    # a bad file met half-way: the error names it, the old output stays
    _save(label[:, :, :4], img.affine, src / 'case3_gt.nii.gz')
    with pytest.raises(
            ConversionError,
            match=r'case3_gt\.nii\.gz: label shape \(96, 67, 4\) does not '
            'match'):
        nifti_main(args + ['--overwrite'])
    assert len(glob.glob(str(out / 'data' / '*.h5'))) == 5
    assert sorted(os.listdir(out)) == ['data', 'splits']


def test_h5_to_nifti_cli(ct, tmp_path):
    convert_pairs([('ct', IMAGE, LABEL)],
                  str(tmp_path),
                  ratios=None,
                  slices=False)
    vol = str(tmp_path / 'data' / 'ct.h5')
    nii = str(tmp_path / 'nii')
    assert h5_to_nifti_main([vol, '--out-dir', nii, '--no-image']) == 0
    back = nib.load(osp.join(nii, 'ct_gt.nii.gz'))
    np.testing.assert_array_equal(np.asanyarray(back.dataobj), ct[3])
    assert os.listdir(nii) == ['ct_gt.nii.gz']
    # refuses to overwrite; a missing input is an error (the command line
    # shows it as one line, see test_converter_tools_exit_2_in_one_line)
    with pytest.raises(FileExistsError, match='pass --overwrite'):
        h5_to_nifti_main([vol, '--out-dir', nii])
    missing = str(tmp_path / 'missing.h5')
    with pytest.raises(ConversionError, match='missing.h5: file not found'):
        h5_to_nifti_main([missing, '--out-dir', nii + '2'])


def test_unlabeled_scans(ct, tmp_path):
    img, _, image, label = ct
    for i in range(4):
        _save(np.roll(image, i, 1), img.affine, tmp_path / f'c{i}.nii.gz')
        _save(np.roll(label, i, 1), img.affine, tmp_path / f'c{i}_gt.nii.gz')
    _save(image[::-1], img.affine, tmp_path / 'u0.nii.gz')
    with pytest.raises(
            ConversionError,
            match=r'u0_gt\.nii\.gz: label file not found .*'
            r'--allow-unlabeled'):
        find_nifti_pairs(str(tmp_path))
    pairs = find_nifti_pairs(str(tmp_path), allow_unlabeled=True)
    assert pairs[-1] == ('u0', str(tmp_path / 'u0.nii.gz'), None)
    summary = convert_pairs(
        pairs, str(tmp_path / 'out'), ratios=(0.5, 0.25, 0.25), slices=False)
    assert summary['num_unlabeled'] == 1
    assert summary['labels_found'] == [0, 1, 2, 3]
    splits = {
        k: open(v).read().split()
        for k, v in summary['split_files'].items()
    }
    assert splits['unlabeled'] == ['u0']
    assert splits['labeled'] == splits['train']
    assert 'u0' not in splits['train'] + splits['val'] + splits['test']
    vol = read_h5_volume(str(tmp_path / 'out' / 'data' / 'u0.h5'))
    assert vol['label'] is None and vol['image'].shape == (10, 67, 96)
    out = str(tmp_path / 'n')
    u0 = str(tmp_path / 'out' / 'data' / 'u0.h5')
    assert h5_to_nifti_main([u0, '--out-dir', out]) == 0
    assert os.listdir(out) == ['u0.nii.gz']


@pytest.mark.parametrize('tool, args, message', [
    ('acdc_nifti_to_h5.py', ['{tmp}/no_raw', '--out', '{tmp}/out'],
     'error: {tmp}/no_raw: folder not found'),
    ('nifti_to_h5.py', ['--images', '{tmp}/no_images', '--out', '{tmp}/out'],
     'error: {tmp}/no_images: folder not found'),
    ('h5_to_nifti.py', ['{tmp}/missing.h5', '--out-dir', '{tmp}/nii'],
     'error: {tmp}/missing.h5: file not found'),
])
def test_converter_tools_exit_2_in_one_line(tool, args, message, tmp_path):
    """Bad input: one ``error:`` line and exit status 2, as every tool."""
    env = dict(os.environ)
    env.pop('AIGCMATCH_DEBUG', None)
    proc = subprocess.run(
        [sys.executable,
         osp.join('tools', 'dataset_converters', tool)] +
        [a.format(tmp=tmp_path) for a in args],
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert 'Traceback' not in proc.stderr
    assert proc.stderr.splitlines()[0] == message.format(tmp=tmp_path)
