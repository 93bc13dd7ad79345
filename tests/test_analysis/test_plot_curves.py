"""tools/analysis/plot_curves.py on a fake mmengine scalars.json."""
import json
import os
import os.path as osp

import cv2
import pytest
from script_loader import load_script

curves = load_script('tools/analysis/plot_curves.py')


def write_scalars(run_dir, records):
    os.makedirs(osp.join(run_dir, 'vis_data'), exist_ok=True)
    path = osp.join(run_dir, 'vis_data', 'scalars.json')
    with open(path, 'w') as f:
        for record in records:
            f.write(json.dumps(record) + '\n')
    return path


def train_record(it, loss):
    # what LoggerHook writes for a WeakToStrongSegmentor step
    return dict(
        lr=0.01,
        data_time=0.01,
        loss=loss,
        loss_x_ce=loss / 2,
        loss_s1=loss / 8,
        conf_ratio=min(1.0, it / 100),
        time=0.2,
        iter=it,
        memory=0,
        step=it)


def test_reads_train_and_val_series(tmp_path):
    path = write_scalars(
        str(tmp_path / 'run'), [
            train_record(10, 1.0),
            train_record(20, 0.8),
            dict(mDice=40.0, Dice_LV=50.0, data_time=0.1, time=0.3, step=20),
            train_record(30, 0.6),
            dict(mDice=55.5, Dice_LV=60.0, data_time=0.1, time=0.3, step=40),
        ])
    train, val = curves.read_scalars(path)
    assert train['loss'] == ([10, 20, 30], [1.0, 0.8, 0.6])
    assert train['conf_ratio'] == ([10, 20, 30], [0.1, 0.2, 0.3])
    assert val['mDice'] == ([20, 40], [40.0, 55.5])
    assert 'mDice' not in train and 'loss' not in val


def test_newest_run_is_plotted(tmp_path):
    work_dir = tmp_path / 'aigcmatch_acdc_7case'
    old = write_scalars(
        str(work_dir / '20250101_000000'), [train_record(10, 1.0)])
    os.utime(old, (1_000_000, 1_000_000))
    write_scalars(
        str(work_dir / '20250102_000000'), [
            train_record(10, 1.0),
            train_record(20, 0.5),
            dict(mDice=70.0, step=20)
        ])
    curves.main([str(work_dir)])
    png = work_dir / '20250102_000000' / 'curves.png'
    image = cv2.imread(str(png))
    assert image is not None and image.shape == (420, 1500, 3)
    assert not (work_dir / '20250101_000000' / 'curves.png').exists()
    with pytest.raises(FileExistsError, match=r'curves\.png already exists'):
        curves.main([str(work_dir)])
    curves.main([
        str(work_dir), '--run', '20250101_000000', '--out',
        str(tmp_path / 'old.png')
    ])
    assert (tmp_path / 'old.png').stat().st_size > 0


def test_errors_name_the_file(tmp_path):
    with pytest.raises(
            FileNotFoundError,
            match=r'empty: no run with '
            r'vis_data/scalars\.json'):
        os.makedirs(tmp_path / 'empty')
        curves.main([str(tmp_path / 'empty')])
    bad = write_scalars(str(tmp_path / 'bad'), [train_record(1, 1.0)])
    with open(bad, 'a') as f:
        f.write('{broken\n')
    with pytest.raises(ValueError, match=r'scalars\.json, line 2: not JSON'):
        curves.read_scalars(bad)
