"""The shipped ACDC split files follow the UniMatch/SSL4MIS protocol."""
import itertools
import os.path as osp

import pytest

from projects.aigcmatch.datasets import ACDCDataset, read_split

VAL = [2, 19, 28, 30, 39, 45, 78, 82, 85, 87]
TEST = [
    1, 7, 8, 11, 13, 22, 24, 33, 52, 59, 64, 65, 66, 68, 75, 80, 81, 83, 84, 93
]
LABELED = {1: [99], 3: [99, 38, 50], 7: [99, 38, 50, 100, 58, 21, 49]}


def split(name):
    return read_split(osp.join(ACDCDataset.SPLITS_DIR, name + '.txt'))


def ids(numbers):
    return [f'patient{n:03d}' for n in numbers]


def test_train_val_test():
    train, val, test = split('train'), split('val'), split('test')
    assert (len(train), len(val), len(test)) == (70, 10, 20)
    assert val == ids(VAL) and test == ids(TEST)
    assert set(train) == set(ids(range(1, 101))) - set(val) - set(test)
    assert set(split('valtest')) == set(val) | set(test)
    assert len(split('valtest')) == 30


@pytest.mark.parametrize('n', [1, 3, 7])
def test_labeled_and_unlabeled(n):
    labeled, unlabeled = split(f'labeled_{n}case'), split(f'unlabeled_{n}case')
    assert labeled == ids(LABELED[n])  # the standard order, 099 first
    assert set(unlabeled) == set(split('train')) - set(labeled)
    assert len(unlabeled) == 70 - n
    sides = dict(
        labeled=labeled,
        unlabeled=unlabeled,
        val=split('val'),
        test=split('test'))
    for (a, pa), (b, pb) in itertools.combinations(sides.items(), 2):
        assert not set(pa) & set(pb), f'{a} and {b} share patients'


def test_labeled_sets_are_nested():
    assert set(split('labeled_1case')) < set(split('labeled_3case')) < set(
        split('labeled_7case'))


def test_shipped_splits_build_disjoint(full_acdc_root):
    for n in (1, 3, 7):
        ds = ACDCDataset(
            data_root=full_acdc_root,
            split=f'unlabeled_{n}case',
            mode='unlabeled',
            disjoint_with=[f'labeled_{n}case', 'val', 'test'])
        assert len(ds) == (70 - n) * 2 * 2
