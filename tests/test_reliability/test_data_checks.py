"""Bad data fails at build time (headers) or in the check tool (values), with
every problem named: file, what, expected."""
import os.path as osp
import shutil

import numpy as np
import pytest

from projects.aigcmatch.datasets import ACDCDataset, H5DataError
from projects.aigcmatch.datasets.h5_checks import DataProblem, raise_problems

from reliability_helpers import write_h5, write_split

SHAPE = (8, 8)


def slice_file(root, case, z=0):
    return osp.join(root, 'data', 'slices', f'{case}_slice_{z}.h5')


def volume_file(root, case):
    return osp.join(root, 'data', f'{case}.h5')


def good_arrays(depth=None):
    shape = SHAPE if depth is None else (depth, ) + SHAPE
    label = np.zeros(shape, np.uint8)
    label[..., 2:4, 2:4] = 3
    return dict(image=np.full(shape, 0.5, np.float32), label=label)


@pytest.fixture
def tree(tmp_path):
    """Patients 001 and 002, two slices each, plus their volumes."""
    root = str(tmp_path / 'acdc')
    for case in ('patient001_frame01', 'patient002_frame01'):
        for z in range(2):
            write_h5(slice_file(root, case, z), **good_arrays())
        write_h5(volume_file(root, case), **good_arrays(depth=2))
    return root


def dataset(root, split, mode='labeled', **kwargs):
    return ACDCDataset(data_root=root, split=split, mode=mode, **kwargs)


def lazy(root, split, mode='labeled', **kwargs):
    return dataset(root, split, mode, lazy_init=True, **kwargs)


def split_file(root, name, *ids):
    return write_split(osp.join(root, 'splits', f'{name}.txt'), list(ids))


def test_good_tree_has_no_problem(tree):
    split = split_file(tree, 's', 'patient001', 'patient002')
    assert lazy(tree, split).check_data() == []
    assert lazy(tree, split, 'volume').check_data() == []
    assert len(dataset(tree, split, full_check=True)) == 4


def test_missing_file(tree):
    split = split_file(tree, 's', 'patient001', 'patient007')
    problems = lazy(tree, split).check_data()
    assert [p.error for p in problems] == [FileNotFoundError]
    assert problems[0].path == split
    with pytest.raises(
            FileNotFoundError,
            match=r's\.txt names patient007, but .*slices holds no file of '
            r'it; expected .*slices/patient007\*_slice_<k>\.h5'):
        dataset(tree, split)


def test_missing_key(tree):
    path = slice_file(tree, 'patient001_frame01', 1)
    write_h5(path, image=good_arrays()['image'])
    split = split_file(tree, 's', 'patient001')
    with pytest.raises(
            H5DataError,
            match=rf'{path}: no dataset "label" \(found: \[\'image\'\]\); '
            'expected an integer "label"'):
        dataset(tree, split)
    # unlabeled data needs no label
    assert len(dataset(tree, split, 'unlabeled')) == 2


def test_shape_mismatch(tree):
    path = volume_file(tree, 'patient002_frame01')
    write_h5(
        path,
        image=np.zeros((2, 8, 8), np.float32),
        label=np.zeros((2, 8, 6), np.uint8))
    with pytest.raises(
            H5DataError,
            match=rf'{path}: "label" has shape \(2, 8, 6\) but "image" has '
            r'\(2, 8, 8\); expected the same shape'):
        dataset(tree, split_file(tree, 's', 'patient002'), 'volume')


def test_label_out_of_range(tree):
    path = slice_file(tree, 'patient001_frame01', 0)
    arrays = good_arrays()
    arrays['label'][0, 0] = 7
    write_h5(path, **arrays)
    split = split_file(tree, 's', 'patient001')
    assert lazy(tree, split).check_data(full_check=False) == []
    (problem, ) = lazy(tree, split).check_data(full_check=True)
    assert problem.path == path
    with pytest.raises(
            H5DataError,
            match=rf'{path}: "label" holds value\(s\) \[7\]; expected class '
            r'indices 0\.\.3 \(4 classes\)'):
        dataset(tree, split, full_check=True)


def test_nan_image(tree):
    path = volume_file(tree, 'patient001_frame01')
    arrays = good_arrays(depth=2)
    arrays['image'][1, 3, 3] = np.nan
    arrays['image'][0, 0, 0] = np.inf
    write_h5(path, **arrays)
    with pytest.raises(
            H5DataError,
            match=rf'{path}: "image" holds 2 NaN/inf value\(s\); expected '
            'finite intensities'):
        dataset(
            tree,
            split_file(tree, 's', 'patient001'),
            'volume',
            full_check=True)


def test_patient_in_two_splits(tree):
    labeled = split_file(tree, 'labeled', 'patient001')
    unlabeled = split_file(tree, 'unlabeled', 'patient002',
                           'patient001_frame01')
    with pytest.raises(
            ValueError,
            match=r'unlabeled\.txt and split .*labeled\.txt share '
            r'patient\(s\) patient001; expected no patient on both sides'):
        dataset(tree, unlabeled, 'unlabeled', disjoint_with=labeled)


def test_empty_split(tree):
    split = split_file(tree, 'empty')
    (problem, ) = lazy(tree, split).check_data()
    assert problem.path == split
    with pytest.raises(
            ValueError,
            match=r'split file .*empty\.txt lists no id; expected one '
            'patient or volume id per line'):
        dataset(tree, split)


def test_corrupt_file(tree):
    corrupt = slice_file(tree, 'patient001_frame01', 0)
    with open(corrupt, 'w') as f:
        f.write('not hdf5')
    split = split_file(tree, 's', 'patient001')
    ds = lazy(tree, split)
    (problem, ) = ds.check_data()
    assert problem.message.startswith(
        f'{corrupt}: cannot be read as an HDF5 file')


def test_all_problems_reported_at_once(tree):
    """One build error lists every header problem of the split, not just the
    first one met; check_data returns them all, values included."""
    missing_label = slice_file(tree, 'patient001_frame01', 0)
    write_h5(missing_label, image=np.zeros(SHAPE, np.float32))
    mismatch = slice_file(tree, 'patient002_frame01', 1)
    write_h5(
        mismatch,
        image=np.zeros(SHAPE, np.float32),
        label=np.zeros((4, 4), np.uint8))
    nan = slice_file(tree, 'patient002_frame01', 0)
    arrays = good_arrays()
    arrays['image'][0, 0] = np.nan
    write_h5(nan, **arrays)
    split = split_file(tree, 's', 'patient001', 'patient002', 'patient009')
    with pytest.raises(FileNotFoundError) as err:
        dataset(tree, split)
    message = str(err.value)
    assert message.startswith('3 problems in the data:')
    for expected in ('names patient009, but', f'{missing_label}: no dataset '
                     '"label"', f'{mismatch}: "label" has shape (4, 4)'):
        assert expected in message
    problems = lazy(tree, split).check_data(full_check=True)
    assert [p.path for p in problems] == [split, missing_label, nan, mismatch]


def test_raise_problems_caps_the_list():
    problems = [DataProblem(f'f{i}.h5', f'f{i}.h5: bad') for i in range(25)]
    with pytest.raises(H5DataError, match=r'(?s)25 problems.*f19\.h5: bad\n'
                       r'  \.\.\. and 5 more \(run tools/check_dataset\.py'):
        raise_problems(problems)
    raise_problems([])  # nothing to raise


def test_missing_data_folder(tree):
    shutil.rmtree(osp.join(tree, 'data', 'slices'))
    (problem, ) = lazy(tree, split_file(tree, 's', 'patient001')).check_data()
    assert problem.error is FileNotFoundError
    assert "slice folder '" in problem.message and 'does not exist' in (
        problem.message)
