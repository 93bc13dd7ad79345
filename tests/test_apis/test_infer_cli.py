"""tools/infer.py end to end on a tiny model: files, volumes.csv, EF and
errors."""
import csv
import os
import os.path as osp
import subprocess
import sys

import cv2
import h5py
import nibabel as nib
import numpy as np
import pytest
from script_loader import load_script

from .tiny_model import write_checkpoint, write_config

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


infer = load_script('tools/infer.py')


def run_infer(*args: str) -> subprocess.CompletedProcess:
    """``tools/infer.py ARGS`` in a fresh process, as a user runs it: from
    the repository root, one thread (the kernels of this process, so slices
    are bit-equal), no debug tracebacks."""
    env = dict(os.environ, OMP_NUM_THREADS='1')
    env['PYTHONPATH'] = os.pathsep.join(
        p for p in (ROOT, env.get('PYTHONPATH')) if p)
    env.pop('AIGCMATCH_DEBUG', None)
    return subprocess.run([sys.executable, 'tools/infer.py', *args],
                          cwd=ROOT, capture_output=True, text=True, env=env,
                          timeout=300)


@pytest.fixture(scope='module')
def model_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp('infer_model')
    config = write_config(str(folder))
    return dict(
        config=config,
        random=write_checkpoint(config, str(folder / 'random.pth')),
        lv=write_checkpoint(
            config, str(folder / 'lv.pth'), lv_everywhere=True))


def write_nifti(path, shape, zooms):
    affine = np.diag(list(zooms[:3]) + [1.0])
    affine[:3, 3] = (-5.0, 3.0, 11.0)
    data = np.random.default_rng(len(shape) + shape[-1]).integers(
        0, 800, shape).astype(np.int16)
    img = nib.Nifti1Image(data, affine)
    img.set_qform(affine, code=1)
    img.set_sform(affine, code=1)
    nib.save(img, path)
    return path


def read_csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_nifti_pair_gives_hand_computed_ef(model_files, tmp_path, capsys):
    # The planted model calls every voxel LV, so the LV volume is the scan's
    # volume: ED 20 x 16 x 5 voxels, ES 20 x 16 x 3, of 1.5 x 1.5 x 10 mm.
    ed = write_nifti(
        str(tmp_path / 'patient201_frame01.nii.gz'), (20, 16, 5),
        (1.5, 1.5, 10.0))
    es = write_nifti(
        str(tmp_path / 'patient201_frame10.nii.gz'), (20, 16, 3),
        (1.5, 1.5, 10.0))
    out = str(tmp_path / 'out')
    infer.main([
        model_files['config'], model_files['lv'], es, ed, '--out', out,
        '--overlay', '--save-probs', '--no-progress'
    ])
    edv = 20 * 16 * 5 * 22.5 / 1000  # 36.0 ml
    esv = 20 * 16 * 3 * 22.5 / 1000  # 21.6 ml
    ef = (edv - esv) / edv * 100  # 40.0 %

    rows = {r['case_id']: r for r in read_csv(osp.join(out, 'volumes.csv'))}
    assert float(rows['patient201_frame01']['LV_ml']) == pytest.approx(edv)
    assert float(rows['patient201_frame10']['LV_ml']) == pytest.approx(esv)
    assert rows['patient201_frame01']['phase'] == 'ED'
    assert rows['patient201_frame10']['phase'] == 'ES'
    for row in rows.values():
        assert float(row['lv_ef_percent']) == pytest.approx(ef)
        assert row['phase_rule'] == 'larger LV volume is ED'
        assert row['RV_voxels'] == '0'
    assert rows['patient201_frame01']['shape'] == '20x16x5'
    assert rows['patient201_frame01']['spacing_mm'] == '1.5 1.5 10'
    printed = capsys.readouterr().out
    assert 'EF 40.0 %  [ED/ES by larger LV volume is ED]' in printed

    for src in (ed, es):
        case = osp.basename(src)[:-len('.nii.gz')]
        seg = nib.load(osp.join(out, f'{case}_seg.nii.gz'))
        ref = nib.load(src)
        assert seg.shape == ref.shape
        np.testing.assert_array_equal(seg.affine, ref.affine)
        assert seg.header.get_zooms() == ref.header.get_zooms()
        assert (np.asarray(seg.dataobj) == 3).all()
        probs = nib.load(osp.join(out, f'{case}_probs.nii.gz'))
        assert probs.shape == ref.shape + (4, )
    overlays = sorted(
        os.listdir(osp.join(out, 'overlays', 'patient201_frame01')))
    assert overlays == [f'patient201_frame01_slice_{k}.png' for k in range(5)]
    png = cv2.imread(
        osp.join(out, 'overlays', 'patient201_frame01', overlays[0]))
    assert png.shape == (16, 2 * 20 + 2, 3)  # [image | overlay] of (H, W)


def write_h5_volume(path, shape, spacing, phase):
    image = np.random.default_rng(shape[0]).random(shape).astype(np.float32)
    with h5py.File(path, 'w') as f:
        f.create_dataset('image', data=image)
        f.attrs['spacing'] = np.asarray(spacing)
        f.attrs['phase'] = phase


def test_h5_folder_in_h5_out(model_files, tmp_path):
    data = tmp_path / 'data'
    (data / 'slices').mkdir(parents=True)  # a layout's slice folder: ignored
    write_h5_volume(
        str(data / 'patient301_frame01.h5'), (2, 12, 10), (5.0, 2.0, 2.0),
        'ES')
    write_h5_volume(
        str(data / 'patient301_frame04.h5'), (3, 12, 10), (5.0, 2.0, 2.0),
        'ED')
    out = str(tmp_path / 'out')
    infer.main([
        model_files['config'], model_files['random'],
        str(data), '--out', out, '--no-progress'
    ])
    rows = {r['case_id']: r for r in read_csv(osp.join(out, 'volumes.csv'))}
    assert set(rows) == {'patient301_frame01', 'patient301_frame04'}
    for case, shape in (('patient301_frame01', (2, 12, 10)),
                        ('patient301_frame04', (3, 12, 10))):
        with h5py.File(osp.join(out, f'{case}_seg.h5'), 'r') as f:
            label = f['label'][()]
            np.testing.assert_array_equal(f.attrs['spacing'], [5, 2, 2])
        assert label.shape == shape and label.dtype == np.uint8
        assert set(np.unique(label)) <= {0, 1, 2, 3}
        for name, cls in (('RV', 1), ('Myo', 2), ('LV', 3)):
            voxels = int((label == cls).sum())
            assert int(rows[case][f'{name}_voxels']) == voxels
            assert float(rows[case][f'{name}_ml']) == pytest.approx(
                voxels * 0.02, abs=1e-3)
    # the converter's phase attribute decides ED/ES, not the frame numbers
    assert rows['patient301_frame04']['phase'] == 'ED'
    assert rows['patient301_frame04']['phase_rule'] == 'h5 phase attribute'


def test_png_slice_in_png_out(model_files, tmp_path):
    png = str(tmp_path / 'slice.png')
    cv2.imwrite(
        png,
        np.random.default_rng(0).integers(0, 255, (21, 17)).astype(np.uint8))
    out = str(tmp_path / 'out')
    infer.main([
        model_files['config'], model_files['lv'], png, '--out', out,
        '--spacing', '8', '1', '1', '--no-progress'
    ])
    labels = cv2.imread(osp.join(out, 'slice_seg.png'), cv2.IMREAD_UNCHANGED)
    assert labels.shape == (21, 17) and (labels == 3).all()
    (row, ) = read_csv(osp.join(out, 'volumes.csv'))
    assert float(row['LV_ml']) == pytest.approx(21 * 17 * 8 / 1000)
    assert (row['shape'], row['spacing_mm']) == ('21x17', '8 1 1')


def test_refuses_an_output_folder_with_results(model_files, tmp_path):
    src = write_nifti(
        str(tmp_path / 'scan.nii.gz'), (8, 8, 2), (1.0, 1.0, 5.0))
    out = tmp_path / 'out'
    out.mkdir()
    (out / 'scan_seg.nii.gz').write_bytes(b'earlier result')
    args = [
        model_files['config'], model_files['random'], src, '--out',
        str(out), '--no-progress'
    ]
    with pytest.raises(
            FileExistsError,
            match=r'--out .*out already holds '
            r'results \(scan_seg\.nii\.gz.*pass --overwrite'):
        infer.main(args)
    assert (out / 'scan_seg.nii.gz').read_bytes() == b'earlier result'
    infer.main(args + ['--overwrite'])
    assert nib.load(str(out / 'scan_seg.nii.gz')).shape == (8, 8, 2)


def test_bad_inputs_fail_before_anything_is_written(model_files, tmp_path):
    good = write_nifti(
        str(tmp_path / 'good.nii.gz'), (8, 8, 2), (1.0, 1.0, 5.0))
    text = tmp_path / 'notes.nii.gz'
    text.write_text('not an image')
    out = tmp_path / 'out'
    with pytest.raises(
            ValueError, match=r'notes\.nii\.gz: not a readable '
            'NIfTI'):
        infer.main([
            model_files['config'], model_files['random'], good,
            str(text), '--out',
            str(out), '--no-progress'
        ])
    assert not out.exists()
    folder3 = tmp_path / 'three'
    folder3.mkdir()
    config3 = write_config(str(folder3), num_classes=3)
    ckpt3 = write_checkpoint(config3, str(folder3 / 'three.pth'))
    with pytest.raises(
            ValueError, match=r'three\.pth was trained for 3 '
            'classes'):
        infer.main([
            model_files['config'], ckpt3, good, '--out',
            str(out), '--no-progress'
        ])


def test_4d_nifti_prints_one_error_line(model_files, tmp_path):
    cine = write_nifti(
        str(tmp_path / 'patient001_4d.nii.gz'), (6, 6, 2, 4),
        (1.0, 1.0, 5.0, 1.0))
    proc = run_infer(model_files['config'], model_files['random'], cine,
                     '--out', str(tmp_path / 'out'))
    assert proc.returncode == 2, proc.stderr
    assert 'Traceback' not in proc.stderr
    assert 'error: ' in proc.stderr
    assert 'patient001_4d.nii.gz: expected a 3D volume (X, Y, Z), got a 4D ' \
        'array' in proc.stderr


def test_one_extreme_voxel_gives_the_clean_scans_prediction(
        model_files, tmp_path):
    # A scanner marker at 1e30 in a corner: plain min-max would map the scan
    # to a blank image; the prediction must be the clean scan's. ACDC's
    # slice size, so the model input is about the scan's (a small scan is
    # magnified, and with it the one voxel the marker replaced).
    from projects.aigcmatch.datasets.synthetic import synthesize_patient
    image = synthesize_patient(1, (216, 256), (3, 3))['frame01']['image']
    clean = (image.transpose(2, 1, 0) * 800 + 20).astype(np.float32)
    corrupt = clean.copy()
    corrupt[0, 0, 1] = 1e30
    paths = {}
    for name, data in (('clean', clean), ('marker', corrupt)):
        paths[name] = str(tmp_path / f'{name}.nii.gz')
        nib.save(nib.Nifti1Image(data, np.diag([1.5, 1.5, 8.0, 1.0])),
                 paths[name])
    infer.main([
        model_files['config'], model_files['random'], paths['clean'],
        '--out', str(tmp_path / 'clean_out'), '--save-probs',
        '--no-progress'
    ])
    proc = run_infer(model_files['config'], model_files['random'],
                     paths['marker'], '--out', str(tmp_path / 'marker_out'),
                     '--save-probs', '--no-progress')
    assert proc.returncode == 0, proc.stderr
    warned = [ln for ln in proc.stderr.splitlines() if 'far outside' in ln]
    assert warned == [
        f'warning: {paths["marker"]}: 1 voxel(s) far outside the intensity '
        f'range of the rest (values {clean.min():.6g}..1e+30; 0.5th-99.5th '
        f'percentiles ' + warned[0].split('percentiles ')[1]
    ]
    assert 'intensities robust_minmax' in proc.stdout

    def probs(folder, name):
        return np.asarray(
            nib.load(str(tmp_path / folder / f'{name}_probs.nii.gz')).dataobj)

    def labels(folder, name):
        return np.asarray(
            nib.load(str(tmp_path / folder / f'{name}_seg.nii.gz')).dataobj)

    clean_probs, marker_probs = probs('clean_out', 'clean'), probs(
        'marker_out', 'marker')
    # The marker's voxel takes its neighbours' median, not its (unknown)
    # clean value: probabilities move around it only (by 1.7e-3 at most),
    # the other slices not at all. The random model's near-ties flip 2 of
    # 181041 labels.
    difference = np.abs(marker_probs - clean_probs)
    assert difference.mean() < 1e-6 and difference.max() < 1e-2
    assert difference[8:, 8:].max() < 1e-3
    assert difference[:, :, [0, 2]].max() == 0
    assert np.mean(labels('marker_out', 'marker') != labels(
        'clean_out', 'clean')) < 1e-4
    # the same scan under plain min-max: far from the clean prediction
    from projects.aigcmatch.apis import Segmenter
    squashed = Segmenter(
        model_files['config'], model_files['random'], device='cpu',
        intensity_norm='minmax')
    with pytest.warns(UserWarning, match='squash'):
        result = squashed.segment(paths['marker'], return_probs=True)
    assert np.abs(result.probs.transpose(0, 3, 2, 1) -
                  clean_probs.transpose(3, 0, 1, 2)).max() > 0.1


def test_channels_last_npy_prints_one_error_line(model_files, tmp_path):
    two = str(tmp_path / 'two_channels.npy')
    np.save(two, np.random.default_rng(1).random((64, 64, 2)))
    out = tmp_path / 'out'
    proc = run_infer(model_files['config'], model_files['random'], two,
                     '--out', str(out))
    assert proc.returncode == 2, proc.stderr
    assert 'Traceback' not in proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith('error')]
    assert errors == [
        f'error: {two}: shape (64, 64, 2) looks like an (H, W, C) image '
        'with 2 channel(s) on the last axis; expected an (H, W) slice or a '
        '(D, H, W) volume (a 64-slice volume of 64 x 2 pixels is not an '
        'image to segment). Save the channel to segment, e.g. '
        'array[..., 0], or a gray image; a volume with its slices on the '
        'last axis as array.transpose(2, 0, 1)'
    ]
    assert not out.exists()


def test_truncated_checkpoint_is_named(model_files, tmp_path):
    with open(model_files['random'], 'rb') as f:
        data = f.read()
    truncated = tmp_path / 'truncated.pth'
    truncated.write_bytes(data[:len(data) // 3])
    scan = write_nifti(
        str(tmp_path / 'scan.nii.gz'), (8, 8, 2), (1.0, 1.0, 5.0))
    out = tmp_path / 'out'
    with pytest.raises(
            ValueError,
            match=rf'checkpoint {truncated} \({len(data) // 3} bytes\) '
            'cannot be read: it is truncated'):
        infer.main([
            model_files['config'],
            str(truncated), scan, '--out',
            str(out), '--no-progress'
        ])
    assert not out.exists()


def test_cfg_options_change_the_pipeline_or_are_refused(
        model_files, tmp_path, capsys):
    scan = write_nifti(
        str(tmp_path / 'scan.nii.gz'), (20, 16, 2), (1.5, 1.5, 10.0))
    infer.main([
        model_files['config'], model_files['random'], scan, '--out',
        str(tmp_path / 'out'), '--no-progress', '--cfg-options',
        'test_pipeline.1.scale=(64,32)'
    ])
    assert 'model input 32x64' in capsys.readouterr().out
    proc = run_infer(model_files['config'], model_files['random'], scan,
                     '--out', str(tmp_path / 'out2'), '--cfg-options',
                     'test_pipline.1.scale=2')
    assert proc.returncode == 2 and 'Traceback' not in proc.stderr
    assert ('error: --cfg-options test_pipline.1.scale: "test_pipline" is '
            'not a key of the config; did you mean "test_pipeline"?'
            in proc.stderr), proc.stderr
    assert not osp.exists(tmp_path / 'out2')
