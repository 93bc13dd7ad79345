"""ACDCDataset / H5SliceDataset: every mode, on a tiny tree."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmseg.registry import DATASETS
from mmseg.structures import SegDataSample

from projects.aigcmatch.datasets import ACDCDataset, H5SliceDataset

SIZE = (16, 16)  # resize target: small, and different from the 24x20 slices
META = ('img_path', 'ori_shape', 'img_shape', 'case_id', 'slice_idx',
        'num_slices', 'spacing')
TRAIN = [
    dict(type='LoadH5Image'),
    dict(type='LoadH5Annotations'),
    dict(type='Resize', scale=SIZE, keep_ratio=False, interpolation='nearest'),
    dict(type='PackSegInputs', meta_keys=META),
]
UNLABELED = [
    dict(type='LoadH5Image'),
    dict(type='Resize', scale=SIZE, keep_ratio=False, interpolation='nearest'),
    dict(
        type='PackMultiViewInputs',
        strong_pipeline=[dict(type='GrayscaleColorJitter', prob=1.)],
        meta_keys=META),
]
TEST = [
    dict(type='LoadH5Image'),
    dict(
        type='Resize',
        scale=(256, 256),
        keep_ratio=False,
        interpolation='bilinear'),
    dict(type='LoadH5Annotations'),
    dict(type='PackSegInputs', meta_keys=META),
]


def test_labeled_mode(acdc_root, split_writer, tmp_path):
    split = split_writer(str(tmp_path / 'lab.txt'), ['patient099'])
    ds = DATASETS.build(
        dict(
            type='ACDCDataset',
            data_root=acdc_root,
            split=split,
            mode='labeled',
            pipeline=TRAIN))
    assert len(ds) == 2 * 3  # 2 frames x 3 slices
    sample = ds[0]
    assert sample['inputs'].shape == (1, ) + SIZE
    assert sample['inputs'].dtype == torch.float32
    seg = sample['data_samples'].gt_sem_seg.data
    assert seg.shape == (1, ) + SIZE and seg.dtype == torch.int64
    assert set(seg.unique().tolist()) == {0, 1, 2, 3}
    meta = sample['data_samples'].metainfo
    assert meta['case_id'] == 'patient099_frame01'
    assert meta['slice_idx'] == 0
    assert meta['ori_shape'] == (24, 20)
    # Order: split order, then case, then slice index.
    ids = [(ds.get_data_info(i)['case_id'], ds.get_data_info(i)['slice_idx'])
           for i in range(len(ds))]
    assert ids == [(f'patient099_frame0{f}', z) for f in (1, 2)
                   for z in range(3)]


def test_labeled_keeps_split_order_and_label_values(acdc_root, split_writer,
                                                    tmp_path):
    split = split_writer(str(tmp_path / 's.txt'), ['patient050', 'patient038'])
    ds = ACDCDataset(
        data_root=acdc_root,
        split=split,
        pipeline=[dict(type='LoadH5Image'),
                  dict(type='LoadH5Annotations')])
    assert ds.get_data_info(0)['case_id'] == 'patient050_frame01'
    assert ds.get_data_info(len(ds) - 1)['case_id'] == 'patient038_frame02'
    out = ds[4]  # patient050_frame02, slice 1: the raw arrays
    assert out['img'].dtype == np.float32 and out['img'].shape == (24, 20)
    assert out['gt_seg_map'].dtype == np.uint8
    assert out['gt_seg_map'][9, 9] == 2 and out['gt_seg_map'][3, 4] == 1


def test_unlabeled_mode_never_loads_labels(acdc_root, split_writer, tmp_path,
                                           h5_writer):
    # A slice file without "label" is fine in unlabeled mode.
    h5_writer(
        osp.join(acdc_root, 'data', 'slices', 'patient077_frame01_slice_0.h5'),
        image=np.zeros((24, 20), np.float32))
    split = split_writer(str(tmp_path / 'u.txt'), ['patient038', 'patient077'])
    ds = ACDCDataset(
        data_root=acdc_root, split=split, mode='unlabeled', pipeline=UNLABELED)
    assert len(ds) == 2 * 3 + 1
    sample = ds[0]
    assert set(sample['inputs']) == {'weak', 'strong1', 'strong2'}
    for view in sample['inputs'].values():
        assert view.shape == (1, ) + SIZE and view.dtype == torch.float32
    data_sample = sample['data_samples']
    assert isinstance(data_sample, SegDataSample)
    assert 'gt_sem_seg' not in data_sample
    assert data_sample.metainfo['case_id'] == 'patient038_frame01'
    assert ds.get_data_info(0)['seg_map_path'] is None
    with pytest.raises(ValueError, match="mode 'unlabeled' never loads"):
        ACDCDataset(
            data_root=acdc_root, split=split, mode='unlabeled',
            pipeline=TRAIN)[0]


def test_volume_mode(acdc_root, case_writer, split_writer, tmp_path):
    case_writer(acdc_root, 'patient011_frame01', num_slices=5, spacing=None)
    split = split_writer(
        str(tmp_path / 'v.txt'), ['patient002', 'patient011_frame01'])
    ds = ACDCDataset(
        data_root=acdc_root, split=split, mode='volume', pipeline=TEST)
    assert ds.test_mode
    assert len(ds) == 3 + 3 + 5
    sample = ds[1]
    assert sample['inputs'].shape == (1, 256, 256)
    gt = sample['data_samples'].gt_sem_seg.data
    assert gt.shape == (1, 24, 20)  # original size for the metric
    meta = sample['data_samples'].metainfo
    assert meta['case_id'] == 'patient002_frame01'
    assert (meta['slice_idx'], meta['num_slices']) == (1, 3)
    assert meta['spacing'] == (10., 1.5, 1.25)
    assert meta['ori_shape'] == (24, 20) and meta['img_shape'] == (256, 256)
    # The volume's slice equals the slice file of the same index.
    raw = ACDCDataset(
        data_root=acdc_root,
        split=split,
        mode='volume',
        pipeline=[dict(type='LoadH5Image'),
                  dict(type='LoadH5Annotations')])[1]
    slice_ds = ACDCDataset(
        data_root=acdc_root,
        split=split_writer(str(tmp_path / 'one.txt'), ['patient002_frame01']),
        pipeline=[dict(type='LoadH5Image'),
                  dict(type='LoadH5Annotations')])
    np.testing.assert_array_equal(raw['img'], slice_ds[1]['img'])
    np.testing.assert_array_equal(raw['gt_seg_map'], slice_ds[1]['gt_seg_map'])
    # A file without the spacing attribute gives no spacing key.
    last = ds[len(ds) - 1]['data_samples'].metainfo
    assert last['case_id'] == 'patient011_frame01'
    assert (last['slice_idx'], last['num_slices']) == (4, 5)
    assert 'spacing' not in last


def test_generic_dataset_with_config_classes(tmp_path, tree_writer,
                                             split_writer):
    root = tree_writer(str(tmp_path / 'other'), ['case7'], frames=(1, ))
    split = split_writer(str(tmp_path / 's.txt'), ['case7'])
    classes = ('bg', 'a', 'b', 'c', 'd')
    ds = H5SliceDataset(
        data_root=root,
        split=split,
        metainfo=dict(classes=classes, palette=[[0, 0, 0]] * 5),
        pipeline=[dict(type='LoadH5Image')])
    assert ds.metainfo['classes'] == classes and len(ds) == 3
    assert ds.get_data_info(0)['num_classes'] == 5
    with pytest.raises(ValueError, match=r'no classes; expected metainfo'):
        H5SliceDataset(data_root=root, split=split)


def test_class_subset_maps_labels(acdc_root, split_writer, tmp_path):
    split = split_writer(str(tmp_path / 's.txt'), ['patient099_frame01'])
    ds = ACDCDataset(
        data_root=acdc_root,
        split=split,
        metainfo=dict(classes=('background', 'LV')),
        pipeline=[dict(type='LoadH5Image'),
                  dict(type='LoadH5Annotations')])
    seg = ds[0]['gt_seg_map']
    assert set(np.unique(seg).tolist()) == {0, 1, 255}
    assert seg[15, 12] == 1 and seg[9, 9] == 255


def test_shipped_split_by_name(full_acdc_root):
    ds = ACDCDataset(
        data_root=full_acdc_root, split='labeled_3case', pipeline=[])
    patients = {ds.get_data_info(i)['case_id'][:10] for i in range(len(ds))}
    assert patients == {'patient099', 'patient038', 'patient050'}
    assert len(ds) == 3 * 2 * 2  # patients x frames x slices
    assert ds.get_data_info(0)['case_id'] == 'patient099_frame01'
