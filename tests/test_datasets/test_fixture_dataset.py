"""The real CT fixture, converted with the generic NIfTI converter, read back
by the generic dataset in every mode (a user's own data, end to end)."""
import os.path as osp

import nibabel as nib
import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate

from projects.aigcmatch.datasets import H5SliceDataset
from tools.dataset_converters.nifti_to_h5 import main as nifti_main

FIXTURE = osp.join(
    osp.dirname(osp.dirname(osp.abspath(__file__))), 'data', 'totalseg_ct')
CLASSES = ('background', 'liver', 'spleen', 'kidney')
PACK = dict(
    type='PackSegInputs',
    meta_keys=('img_path', 'ori_shape', 'img_shape', 'case_id', 'slice_idx',
               'num_slices', 'spacing'))


@pytest.fixture(scope='module')
def converted(tmp_path_factory):
    tmp = tmp_path_factory.mktemp('ct')
    img = nib.load(osp.join(FIXTURE, 'image.nii.gz'))
    lab = nib.load(osp.join(FIXTURE, 'label.nii.gz'))
    src = tmp / 'src'
    src.mkdir()
    for i in range(5):
        nib.save(
            nib.Nifti1Image(np.roll(np.asanyarray(img.dataobj), i, 0),
                            img.affine), src / f'case{i}.nii.gz')
        nib.save(
            nib.Nifti1Image(np.roll(np.asanyarray(lab.dataobj), i, 0),
                            lab.affine), src / f'case{i}_gt.nii.gz')
    out = tmp / 'set'
    assert nifti_main([
        '--images',
        str(src), '--out',
        str(out), '--num-classes', '4', '--num-labeled', '1',
        '--split-ratios', '0.6', '0.2', '0.2', '--seed', '0'
    ]) == 0
    return out, img.shape, img.header.get_zooms()


def build(out, split, mode, pipeline):
    return H5SliceDataset(
        data_root=str(out),
        split=str(out / 'splits' / f'{split}.txt'),
        mode=mode,
        metainfo=dict(classes=CLASSES),
        pipeline=pipeline,
        full_check=True)


def test_labeled_unlabeled_and_volume_modes(converted):
    out, (x, y, z), zooms = converted
    labeled = build(out, 'labeled', 'labeled', [
        dict(type='LoadH5Image'),
        dict(type='LoadH5Annotations'), PACK
    ])
    assert len(labeled) == z  # one case, one sample per slice
    sample = labeled[0]
    assert sample['inputs'].shape == (1, y, x)
    assert sample['inputs'].dtype == torch.float32
    assert 0.0 <= float(sample['inputs'].min()) <= float(
        sample['inputs'].max()) <= 1.0
    seg = sample['data_samples'].gt_sem_seg.data
    assert seg.shape == (1, y, x) and int(seg.max()) < len(CLASSES)

    unlabeled = build(out, 'unlabeled', 'unlabeled',
                      [dict(type='LoadH5Image'), PACK])
    assert len(unlabeled) == 2 * z
    assert 'gt_sem_seg' not in unlabeled[0]['data_samples']

    volume = build(out, 'test', 'volume', [
        dict(type='LoadH5Image'),
        dict(type='Resize', scale=(32, 32), keep_ratio=False),
        dict(type='LoadH5Annotations'), PACK
    ])
    batch = pseudo_collate([volume[i] for i in range(len(volume))])
    metas = [ds.metainfo for ds in batch['data_samples']]
    assert [m['slice_idx'] for m in metas] == list(range(z))
    assert {m['num_slices'] for m in metas} == {z}
    assert len({m['case_id'] for m in metas}) == 1
    # voxel spacing in the array's (D, H, W) order
    assert np.allclose(metas[0]['spacing'], zooms[::-1])
    # the model sees 32 x 32; the label keeps the slice's size for the metric
    assert batch['inputs'][0].shape == (1, 32, 32)
    assert batch['data_samples'][0].gt_sem_seg.data.shape == (1, y, x)
