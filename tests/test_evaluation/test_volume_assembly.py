"""Slices regroup into volumes; padding duplicates collapse; gaps fail."""
import numpy as np
import pytest

from projects.aigcmatch.evaluation import assemble_volumes


def record(case_id, idx, n, value=0, shape=(3, 4), spacing=None):
    return dict(case_id=case_id, slice_idx=idx, num_slices=n,
                spacing=spacing, pred=np.full(shape, value, np.uint8),
                gt=np.full(shape, idx, np.uint8))


def test_volumes_are_stacked_in_slice_order_and_sorted_by_case():
    records = [record('b', 1, 2, 7), record('a', 0, 1), record('b', 0, 2, 5)]
    volumes = assemble_volumes(records)
    assert [v.case_id for v in volumes] == ['a', 'b']
    b = volumes[1]
    assert b.pred.shape == (2, 3, 4)
    assert b.pred[:, 0, 0].tolist() == [5, 7]
    assert b.gt[:, 0, 0].tolist() == [0, 1]
    assert b.spacing is None


def test_sampler_padding_duplicates_are_kept_once():
    records = [record('a', 0, 2, 1), record('a', 1, 2, 2),
               record('a', 0, 2, 1)]
    (volume, ) = assemble_volumes(records)
    assert volume.pred.shape == (2, 3, 4)
    assert volume.pred[:, 0, 0].tolist() == [1, 2]


def test_spacing_is_carried_and_must_agree():
    volumes = assemble_volumes(
        [record('a', i, 2, spacing=(5.0, 1.5, 1.5)) for i in range(2)])
    assert volumes[0].spacing == (5.0, 1.5, 1.5)
    with pytest.raises(ValueError, match="case 'a': slices disagree on "
                       'spacing'):
        assemble_volumes([record('a', 0, 2, spacing=(5.0, 1.5, 1.5)),
                          record('a', 1, 2, spacing=(5.0, 1.0, 1.0))])


def test_missing_slices_name_the_case():
    with pytest.raises(ValueError,
                       match=r"case 'p1': slices \[1, 3\] of num_slices=4 "
                       'are missing'):
        assemble_volumes([record('p1', 0, 4), record('p1', 2, 4)])


def test_inconsistent_num_slices_names_the_case():
    with pytest.raises(ValueError,
                       match="case 'p1': its slices disagree on num_slices"):
        assemble_volumes([record('p1', 0, 2), record('p1', 1, 3)])


def test_slice_index_out_of_range():
    with pytest.raises(ValueError, match=r"case 'p1': slice_idx 2 is outside"):
        assemble_volumes([record('p1', 2, 2)])


def test_prediction_label_shape_mismatch_names_case_and_slice():
    bad = record('p1', 0, 1)
    bad['pred'] = np.zeros((4, 4), np.uint8)
    with pytest.raises(ValueError,
                       match=r"case 'p1' slice 0: prediction shape \(4, 4\) "
                       r'differs from label shape \(3, 4\)'):
        assemble_volumes([bad])


def test_slices_of_different_size_in_one_volume():
    with pytest.raises(ValueError, match="case 'p1': slices have different "
                       'sizes'):
        assemble_volumes([record('p1', 0, 2),
                          record('p1', 1, 2, shape=(5, 4))])


def test_same_slice_with_different_labels_is_an_error():
    other = record('p1', 0, 1)
    other['gt'] = other['gt'] + 1
    with pytest.raises(ValueError, match="case 'p1': slice 0 appears twice"):
        assemble_volumes([record('p1', 0, 1), other])
