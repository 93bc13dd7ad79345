"""tools/make_splits.py on a fake tree: patient-level, seeded, no overwrite."""
import os.path as osp

import pytest

from script_loader import load_script

from projects.aigcmatch.datasets import (ACDCDataset, draw_labeled,
                                         draw_splits, read_split, split_files)
from projects.aigcmatch.utils import UserError


@pytest.fixture(scope='module')
def make_splits():
    return load_script('tools/make_splits.py').main


@pytest.fixture
def fake_root(tmp_path, tree_writer):
    # 12 patients, 2 frames (= 2 cases of one patient), 2 slices of 8x8.
    return tree_writer(
        str(tmp_path / 'fake'), [f'patient{i:03d}' for i in range(1, 13)],
        num_slices=2,
        shape=(8, 8))


def read_dir(folder):
    names = [
        'train', 'val', 'test', 'valtest', 'labeled_1case', 'unlabeled_1case',
        'labeled_3case', 'unlabeled_3case'
    ]
    return {n: read_split(osp.join(folder, n + '.txt')) for n in names}


def test_patient_level_without_leak(make_splits, fake_root, tmp_path):
    out = str(tmp_path / 'splits')
    make_splits([
        fake_root, out, '--labeled', '1', '3', '--val', '2', '--test', '3',
        '--seed', '0'
    ])
    s = read_dir(out)
    assert (len(s['train']), len(s['val']), len(s['test'])) == (7, 2, 3)
    assert set(s['train']) | set(s['val']) | set(s['test']) == {
        f'patient{i:03d}'
        for i in range(1, 13)
    }
    assert not set(s['train']) & set(s['val'])
    assert not set(s['train']) & set(s['test'])
    assert not set(s['val']) & set(s['test'])
    assert set(s['valtest']) == set(s['val']) | set(s['test'])
    for n in (1, 3):
        lab, unl = s[f'labeled_{n}case'], s[f'unlabeled_{n}case']
        assert len(lab) == n and not set(lab) & set(unl)
        assert set(lab) | set(unl) == set(s['train'])
    assert set(s['labeled_1case']) < set(s['labeled_3case'])  # nested
    # The files drive the dataset; both frames of a patient stay together.
    lab = ACDCDataset(
        data_root=fake_root, split=osp.join(out, 'labeled_3case.txt'))
    unl = ACDCDataset(
        data_root=fake_root,
        split=osp.join(out, 'unlabeled_3case.txt'),
        mode='unlabeled',
        disjoint_with=osp.join(out, 'labeled_3case.txt'))
    assert len(lab) == 3 * 2 * 2 and len(unl) == 4 * 2 * 2
    lab_patients = {
        lab.get_data_info(i)['case_id'][:10]
        for i in range(len(lab))
    }
    unl_patients = {
        unl.get_data_info(i)['case_id'][:10]
        for i in range(len(unl))
    }
    assert lab_patients == set(s['labeled_3case'])
    assert not lab_patients & unl_patients


def test_seeded(make_splits, fake_root, tmp_path):
    runs = {}
    for name, seed in (('a', 0), ('b', 0), ('c', 5)):
        make_splits([
            fake_root,
            str(tmp_path / name), '--labeled', '1', '3', '--seed',
            str(seed)
        ])
        runs[name] = read_dir(str(tmp_path / name))
    assert runs['a'] == runs['b']
    assert runs['a'] != runs['c']


def test_refuses_to_overwrite(make_splits, fake_root, tmp_path):
    out = tmp_path / 'splits'
    make_splits([fake_root, str(out), '--labeled', '1', '--seed', '0'])
    before = (out / 'labeled_1case.txt').read_text()
    with pytest.raises(
            FileExistsError,
            match=r'already exist .*pass '
            r'--overwrite.*nothing was written'):
        make_splits([fake_root, str(out), '--labeled', '1', '--seed', '9'])
    assert (out / 'labeled_1case.txt').read_text() == before
    make_splits(
        [fake_root,
         str(out), '--labeled', '1', '--seed', '9', '--overwrite'])
    assert (out / 'train.txt').exists()


def test_from_a_training_split(make_splits, fake_root, tmp_path, split_writer):
    train = split_writer(
        str(tmp_path / 'train.txt'), [f'patient{i:03d}' for i in range(1, 7)])
    out = str(tmp_path / 'splits')
    splits = make_splits([fake_root, out, '--train', train, '--labeled', '2'])
    assert set(splits) == {'labeled_2case', 'unlabeled_2case'}
    assert not osp.exists(osp.join(out, 'val.txt'))
    assert set(splits['labeled_2case']) | set(splits['unlabeled_2case']) == {
        f'patient{i:03d}'
        for i in range(1, 7)
    }
    with pytest.raises(
            UserError, match=r'--labeled 6: expected 1..5 '
            'labeled patients'):
        make_splits([
            fake_root,
            str(tmp_path / 'x'), '--train', train, '--labeled', '6'
        ])
    bad = split_writer(str(tmp_path / 'bad.txt'), ['patient077'])
    with pytest.raises(
            UserError, match='names patient077, which have no '
            'slice files'):
        make_splits([fake_root, str(tmp_path / 'y'), '--train', bad])


def test_draw_functions_nested_disjoint_seeded():
    patients = [f'p{i:02d}' for i in range(20)]
    s = draw_splits(reversed(patients), n_val=2, n_test=4, seed=3)
    assert s == draw_splits(patients, 2, 4, 3)  # input order is irrelevant
    assert [len(s[k]) for k in ('train', 'val', 'test')] == [14, 2, 4]
    assert sorted(s['train'] + s['valtest']) == patients
    assert draw_splits(patients, 2, 4, 4)['test'] != s['test']
    sets = draw_labeled(s['train'], [1, 3, 7], seed=3)
    assert set(sets['labeled_1case']) < set(sets['labeled_3case']) < set(
        sets['labeled_7case'])
    for n in (1, 3, 7):
        assert len(sets[f'labeled_{n}case']) == n
        assert sorted(sets[f'labeled_{n}case'] +
                      sets[f'unlabeled_{n}case']) == s['train']
    with pytest.raises(ValueError, match='cannot draw 15 labeled'):
        draw_labeled(s['train'], [15], 0)
    with pytest.raises(ValueError, match='cannot draw 10 val'):
        draw_splits(patients, 10, 11, 0)


def test_converters_draw_the_same_split_as_the_tool(make_splits, fake_root,
                                                    tmp_path):
    out = str(tmp_path / 'splits')
    make_splits([fake_root, out, '--val', '2', '--test', '2', '--labeled',
                 '3', '--seed', '5'])
    tool = {n: read_split(osp.join(out, n + '.txt'))
            for n in ('train', 'val', 'test', 'labeled_3case')}
    cases = [f'patient{i:03d}_frame{f:02d}' for i in range(1, 13)
             for f in (1, 2)]
    conv = split_files.make_splits(cases, (8, 2, 2), seed=5,
                                   group_pattern=r'^patient\d+',
                                   num_labeled=3)
    for name, key in (('train', 'train'), ('val', 'val'), ('test', 'test'),
                      ('labeled', 'labeled_3case')):
        assert sorted({c.split('_')[0] for c in conv[name]}) == sorted(
            tool[key]), name
