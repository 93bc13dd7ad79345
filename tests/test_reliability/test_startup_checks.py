"""tools/train.py and tools/test.py check the splits actually configured for
leakage, and every dataset's headers and label values, before the run: one
line, exit status 2, nothing trained."""
import os
import os.path as osp
import shutil

import numpy as np
import pytest
import torch

from projects.aigcmatch.datasets import ACDCDataset
from projects.aigcmatch.utils.data_checks import (check_config_data,
                                                  derive_disjoint_with)

from reliability_helpers import (run_tool, tiny_config, write_config,
                                 write_h5, write_split)


def assert_one_error_line(proc, *fragments):
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert 'Traceback' not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith('error:')]
    assert len(lines) == 1 and proc.stderr.count('\n  ') == 0, proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def no_checkpoint(work_dir):
    return not osp.isdir(work_dir) or not any(
        f.endswith('.pth') for f in os.listdir(work_dir))


@pytest.fixture
def config(small_acdc, tmp_path):
    cfg = tiny_config(small_acdc, work_dir=str(tmp_path / 'work'))
    # as the shipped configs: disjoint_with is derived, not written
    del cfg.unlabeled_dataloader.dataset['disjoint_with']
    return write_config(cfg, str(tmp_path / 'tiny.py'))


@pytest.mark.parametrize('patient, other', [('patient005', 'test'),
                                            ('patient004', 'val'),
                                            ('patient002', 'unlabeled')])
def test_train_refuses_a_labeled_patient_of_another_split(
        small_acdc, config, tmp_path, patient, other):
    leaked = write_split(str(tmp_path / 'leaked.txt'),
                         ['patient001', patient])
    work_dir = str(tmp_path / 'work')
    proc = run_tool('tools/train.py', config, '--cfg-options',
                    f'train_dataloader.dataset.split={leaked}')
    assert_one_error_line(
        proc, f'labeled split {leaked} and {other} split {small_acdc[other]} '
        f'share patient(s) {patient}', 'found at start-up')
    assert no_checkpoint(work_dir)


def test_test_tool_refuses_a_test_split_holding_a_training_patient(
        small_acdc, config, tmp_path):
    leaked = write_split(str(tmp_path / 'leaked_test.txt'),
                         ['patient005', 'patient003'])
    out = str(tmp_path / 'out')
    # any readable checkpoint: the splits are checked before it is fitted
    ckpt = str(tmp_path / 'any.pth')
    torch.save({'state_dict': {'w': torch.zeros(1)}}, ckpt)
    proc = run_tool('tools/test.py', config, ckpt, '--out', out,
                    '--cfg-options', f'test_dataloader.dataset.split={leaked}')
    assert_one_error_line(
        proc, f'unlabeled split {small_acdc["unlabeled"]} and test split '
        f'{leaked} share patient(s) patient003')
    assert not osp.exists(out)


def test_val_and_test_may_share_a_split_but_nothing_may_leak(small_acdc):
    cfg = tiny_config(small_acdc, work_dir='unused')
    both = write_split(
        osp.join(osp.dirname(small_acdc['test']), 'valtest.txt'),
        ['patient004', 'patient005'])
    cfg.test_dataloader.dataset.split = both  # UniMatch's valtest protocol
    _, problems = check_config_data(
        cfg, level='headers', keys=[], leakage_only=True)
    assert problems == []
    # tools/check_dataset.py still reports it (protocol, not leakage)
    _, problems = check_config_data(cfg, level='headers', keys=[])
    assert len(problems) == 1 and 'share patient(s) patient004' in \
        problems[0]


def test_disjoint_with_follows_an_overridden_labeled_split(small_acdc):
    cfg = tiny_config(small_acdc, work_dir='unused')
    cfg.unlabeled_dataloader.dataset.disjoint_with = ['stale_name']
    other = write_split(
        osp.join(osp.dirname(small_acdc['labeled']), 'other_labeled.txt'),
        ['patient001'])
    cfg.train_dataloader.dataset.split = other
    derive_disjoint_with(cfg)
    assert cfg.unlabeled_dataloader.dataset.disjoint_with == [
        other, small_acdc['val'], small_acdc['test']
    ]


@pytest.fixture
def bad_val_label(small_acdc, tmp_path):
    root = str(tmp_path / 'acdc')
    shutil.copytree(small_acdc['root'], root)
    path = osp.join(root, 'data', 'patient004_frame01.h5')
    label = np.zeros((2, 32, 32), np.uint8)
    label[1, 5, 5] = 7
    write_h5(path, image=np.zeros((2, 32, 32), np.float32), label=label)
    return root, path


def test_train_finds_a_bad_validation_label_at_start_up(
        config, bad_val_label, tmp_path):
    root, path = bad_val_label
    proc = run_tool('tools/train.py', config, '--cfg-options',
                    f'data_root={root}')
    assert_one_error_line(
        proc, f'[val_dataloader.dataset] {path}: "label" holds value(s) [7]; '
        'expected class indices 0..3 (4 classes)', 'found at start-up')
    assert no_checkpoint(str(tmp_path / 'work'))


def test_labels_level_reads_labels_not_images(small_acdc, bad_val_label,
                                              tmp_path):
    root, path = bad_val_label
    nan_slice = osp.join(root, 'data', 'slices',
                         'patient002_frame01_slice_0.h5')
    write_h5(nan_slice, image=np.full((32, 32), np.nan, np.float32))
    val = ACDCDataset(
        data_root=root, split=small_acdc['val'], mode='volume',
        lazy_init=True)
    found = val.check_data(check_images=False)
    assert [p.path for p in found] == [path]
    unlabeled = ACDCDataset(
        data_root=root, split=small_acdc['unlabeled'], mode='unlabeled',
        lazy_init=True)
    assert unlabeled.check_data(check_images=False) == []
    assert [p.path for p in unlabeled.check_data()] == [nan_slice]


def test_startup_check_lists_several_problems(config, bad_val_label,
                                              tmp_path):
    root, path = bad_val_label
    leaked = write_split(str(tmp_path / 'leaked.txt'), ['patient005'])
    proc = run_tool('tools/train.py', config, '--cfg-options',
                    f'data_root={root}',
                    f'train_dataloader.dataset.split={leaked}')
    assert proc.returncode == 2 and 'Traceback' not in proc.stderr
    assert f'error: 2 problem(s) in the datasets of {config}' in proc.stderr
    assert f'  [val_dataloader.dataset] {path}: "label"' in proc.stderr
    assert 'share patient(s) patient005' in proc.stderr
