"""tools/check_dataset.py: every dataset of a config, every problem, one
run."""
import os.path as osp
import shutil

import numpy as np
import pytest

from script_loader import load_script

from reliability_helpers import (run_tool, tiny_config, write_config,
                                 write_h5, write_split)


def _load_tool():
    return load_script('tools/check_dataset.py')


@pytest.fixture
def broken(small_acdc, tmp_path):
    """A copy of the tiny tree with four kinds of damage, and its config."""
    root = str(tmp_path / 'acdc')
    shutil.copytree(small_acdc['root'], root)
    data = dict(root=root)
    for name in ('labeled', 'unlabeled', 'val', 'test'):
        data[name] = osp.join(root, 'splits', f'{name}.txt')
    # test shares a patient with the labeled split
    write_split(data['test'], ['patient005', 'patient001'])
    slices = osp.join(root, 'data', 'slices')
    nan_slice = osp.join(slices, 'patient002_frame01_slice_0.h5')
    write_h5(nan_slice, image=np.full((32, 32), np.nan, np.float32))
    bad_label = osp.join(root, 'data', 'patient004_frame01.h5')
    label = np.zeros((2, 32, 32), np.uint8)
    label[0, 0, 0] = 9
    write_h5(bad_label, image=np.zeros((2, 32, 32), np.float32), label=label)
    no_image = osp.join(slices, 'patient001_frame12_slice_1.h5')
    write_h5(no_image, label=np.zeros((32, 32), np.uint8))
    cfg = tiny_config(data, work_dir=str(tmp_path / 'work'))
    return dict(
        config=write_config(cfg, str(tmp_path / 'broken.py')),
        cfg=cfg,
        nan_slice=nan_slice,
        bad_label=bad_label,
        no_image=no_image,
        data=data)


def test_tool_reports_every_problem_in_one_run(broken):
    proc = run_tool('tools/check_dataset.py', broken['config'])
    assert proc.returncode == 2, proc.stderr
    assert 'Traceback' not in proc.stderr
    err = proc.stderr
    assert 'error: 4 problem(s) in the datasets of' in err
    assert (f'[train_dataloader.dataset] {broken["no_image"]}: no dataset '
            '"image"') in err
    assert (f'[unlabeled_dataloader.dataset] {broken["nan_slice"]}: "image" '
            'holds 1024 NaN/inf value(s); expected finite intensities') in err
    assert (f'[val_dataloader.dataset] {broken["bad_label"]}: "label" holds '
            'value(s) [9]; expected class indices 0..3') in err
    assert ('labeled split ' + broken['data']['labeled'] + ' and test split '
            + broken['data']['test'] + ' share patient(s) patient001') in err
    # one summary line per dataset on stdout
    assert proc.stdout.count(' problem(s)') == 4


def test_headers_only_misses_values_but_not_headers(broken):
    tool = _load_tool()
    _, problems = tool.check_config(
        broken['cfg'], full_check=False, progress=False)
    text = '\n'.join(problems)
    assert 'no dataset "image"' in text and 'share patient(s)' in text
    assert 'NaN' not in text and 'holds value(s)' not in text


def test_clean_config_passes_and_flags_class_count(small_acdc, tmp_path,
                                                    capsys):
    tool = _load_tool()
    config = write_config(
        tiny_config(small_acdc, work_dir=str(tmp_path / 'w')),
        str(tmp_path / 'ok.py'))
    tool.main([config, '--no-progress'])
    assert 'passed the full check' in capsys.readouterr().out
    cfg = tiny_config(small_acdc, work_dir=str(tmp_path / 'w'))
    cfg.model.decode_head.num_classes = 3
    _, problems = tool.check_config(cfg, progress=False)
    assert len(problems) == 4  # one per dataset
    assert ('has 4 classes (\'background\', \'RV\', \'Myo\', \'LV\') but '
            'model.decode_head.num_classes is 3') in problems[0]


def test_unbuildable_dataset_is_a_finding(small_acdc, tmp_path):
    tool = _load_tool()
    cfg = tiny_config(small_acdc, work_dir=str(tmp_path / 'w'))
    cfg.val_dataloader.dataset.split = 'no_such_split'
    _, problems = tool.check_config(cfg, progress=False)
    assert problems == [
        problems[0]
    ] and problems[0].startswith('[val_dataloader.dataset] cannot be built: '
                                 "split 'no_such_split' not found")
