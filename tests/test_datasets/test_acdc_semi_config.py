"""configs/_base_/datasets/acdc_semi.py parses, builds and batches."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmseg.registry import DATASETS
from torch.utils.data import DataLoader

from projects.aigcmatch.utils.config import DATALOADER_KEYS

CONFIG = osp.join(
    osp.dirname(__file__), '..', '..', 'configs', '_base_', 'datasets',
    'acdc_semi.py')
# acdc_semi.py defines every dataloader but the mix one
LOADERS = tuple(k for k in DATALOADER_KEYS if k != 'mix_dataloader')


@pytest.fixture(scope='module')
def cfg():
    return Config.fromfile(CONFIG)


def test_config_values(cfg):
    assert cfg.data_root == 'data/ACDC' and tuple(cfg.crop_size) == (256, 256)
    train, unl = cfg.train_dataloader, cfg.unlabeled_dataloader
    assert train.batch_size == unl.batch_size == 12
    assert train.sampler == dict(type='ResumableInfiniteSampler', shuffle=True)
    assert unl.sampler == dict(type='ResumableInfiniteSampler', shuffle=True)
    assert (train.dataset.split, train.dataset.mode) == ('labeled_7case',
                                                         'labeled')
    assert (unl.dataset.split, unl.dataset.mode) == ('unlabeled_7case',
                                                     'unlabeled')
    for name, split in (('val_dataloader', 'val'), ('test_dataloader',
                                                    'test')):
        loader = cfg[name]
        assert loader.batch_size == 1
        assert loader.sampler == dict(type='DefaultSampler', shuffle=False)
        assert (loader.dataset.split, loader.dataset.mode) == (split, 'volume')
    assert cfg.val_evaluator == cfg.test_evaluator == dict(
        type='MedicalMetric')
    # UniMatch: nearest resize for training, bilinear for evaluation.
    resize = [t for t in cfg.train_pipeline if t.type == 'Resize'][0]
    assert resize.interpolation == 'nearest'
    assert tuple(resize.scale) == (256, 256) and not resize.keep_ratio
    resize = [t for t in cfg.test_pipeline if t.type == 'Resize'][0]
    assert resize.interpolation == 'bilinear'
    types = [t.type for t in cfg.test_pipeline]
    # The label is loaded after the resize: it keeps the original size.
    assert types.index('LoadH5Annotations') > types.index('Resize')
    for name in LOADERS:
        assert cfg[name].num_workers == 2 and cfg[name].persistent_workers
        assert cfg[name].dataset.data_root == cfg.data_root


def build_loader(cfg, name, root, batch_size):
    dataset_cfg = copy.deepcopy(cfg[name].dataset)
    dataset_cfg.data_root = root
    dataset = DATASETS.build(dataset_cfg)
    return dataset, DataLoader(
        dataset,
        batch_size=batch_size,
        collate_fn=pseudo_collate,
        shuffle=False)


def test_datasets_build_and_batch(cfg, full_acdc_root):
    dataset, loader = build_loader(cfg, 'train_dataloader', full_acdc_root, 2)
    assert len(dataset) == 7 * 2 * 2
    batch = next(iter(loader))
    assert len(batch['inputs']) == 2
    assert batch['inputs'][0].shape == (1, 256, 256)
    assert batch['data_samples'][0].gt_sem_seg.data.shape == (1, 256, 256)

    dataset, loader = build_loader(cfg, 'unlabeled_dataloader', full_acdc_root,
                                   2)
    assert len(dataset) == 63 * 2 * 2
    batch = next(iter(loader))
    # pseudo_collate keeps the branch dict: one list of B tensors per view.
    views = batch['inputs']
    assert set(views) == {'weak', 'strong1', 'strong2'}
    for view in views.values():
        assert len(view) == 2
        assert all(v.shape == (1, 256, 256) and v.dtype == torch.float32
                   for v in view)
    assert 'gt_sem_seg' not in batch['data_samples'][0]

    for name, n_patients in (('val_dataloader', 10), ('test_dataloader', 20)):
        dataset, loader = build_loader(cfg, name, full_acdc_root, 1)
        assert len(dataset) == n_patients * 2 * 2  # frames x slices
        batch = next(iter(loader))
        sample = batch['data_samples'][0]
        assert batch['inputs'][0].shape == (1, 256, 256)
        assert sample.gt_sem_seg.data.shape == (1, 8, 8)
        assert sample.ori_shape == (8, 8)
        assert sample.case_id.endswith('_frame01') and sample.slice_idx == 0
        assert sample.num_slices == 2 and len(sample.spacing) == 3
