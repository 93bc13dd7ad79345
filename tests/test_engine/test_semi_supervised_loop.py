"""Real mmengine Runners on the real configs (shrunk): training, logging,
checkpoints, resume, and the loop's build-time checks."""
import copy
import json
import math
import os.path as osp
from typing import Dict, List

import pytest
import torch
from mmengine.hooks import Hook
from mmengine.runner import IterBasedTrainLoop, Runner

from mmseg.registry import DATASETS
from projects.aigcmatch.datasets import ACDCDataset
from projects.aigcmatch.engine import (ResumableInfiniteSampler,
                                       SemiSupervisedIterLoop)

UNSUP_KEYS = ('loss_s1', 'loss_s2', 'loss_fp')


class RecordBatches(Hook):
    """Records the slice files of every training batch, per branch."""

    def __init__(self) -> None:
        self.batches: Dict[int, Dict[str, List[str]]] = {}

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        branches = data_batch if 'inputs' not in data_batch else dict(
            labeled=data_batch)
        self.batches[batch_idx] = {
            name: [s.img_path for s in branch['data_samples']]
            for name, branch in branches.items()
        }


def scalars(runner: Runner) -> Dict[str, float]:
    return {
        key: float(value.current())
        for key, value in runner.message_hub.log_scalars.items()
    }


def logged_train_records(runner: Runner) -> List[dict]:
    """The training records of the run's ``vis_data/scalars.json``."""
    path = osp.join(runner.log_dir, 'vis_data', 'scalars.json')
    with open(path) as f:
        records = [json.loads(line) for line in f if line.strip()]
    return [r for r in records if 'lr' in r]


# --------------------------------------------------------------------- #
# training
# --------------------------------------------------------------------- #
AIGCMATCH_KEYS = ('loss_x_ce', 'loss_x_dice', 'loss_s1', 'loss_s2', 'loss_fp',
                  'conf_ratio', 'att_entropy')


@pytest.mark.parametrize(
    'config, loop, expected, absent',
    [
        ('aigcmatch_acdc_3case.py', SemiSupervisedIterLoop, AIGCMATCH_KEYS,
         ()),
        # The backbone swap (mmseg's ResNetV1c-18, 4 levels) trains too.
        ('aigcmatch_resnet18_acdc_7case.py', SemiSupervisedIterLoop,
         AIGCMATCH_KEYS, ()),
        ('unimatch_acdc_3case.py', SemiSupervisedIterLoop,
         ('loss_x_ce', 'loss_s1', 'loss_s2', 'loss_fp', 'conf_ratio'),
         ('att_entropy', )),
        ('fixmatch_acdc_3case.py', SemiSupervisedIterLoop,
         ('loss_x_ce', 'loss_s1', 'conf_ratio'),
         ('loss_s2', 'loss_fp', 'att_entropy')),
        ('supbaseline_acdc_3case.py', IterBasedTrainLoop,
         ('decode.loss_ce', 'decode.loss_dice'),
         ('loss_s1', 'loss_fp', 'conf_ratio', 'att_entropy'))
    ])
def test_trains_logs_validates_and_saves(tiny_cfg, config, loop, expected,
                                         absent):
    cfg = tiny_cfg(config, max_iters=2)
    runner = Runner.from_cfg(cfg)
    runner.train()

    assert type(runner.train_loop) is loop
    assert runner.iter == 2
    hub = scalars(runner)
    for key in ('loss', ) + expected:
        assert math.isfinite(hub[f'train/{key}']), key
    for key in absent:
        assert f'train/{key}' not in hub
    if 'conf_ratio' in expected:
        assert 0.0 <= hub['train/conf_ratio'] <= 1.0
    # Each iteration went into the log file's records too.
    records = logged_train_records(runner)
    assert [r['iter'] for r in records] == [1, 2]
    assert all(key in r for r in records for key in ('loss', ) + expected)
    # Validation ran on the tiny val set; its metric picks the best model.
    assert 0.0 <= hub['val/mDice'] <= 100.0
    assert osp.isfile(osp.join(cfg.work_dir, 'iter_2.pth'))
    assert osp.isfile(osp.join(cfg.work_dir, 'best_mDice_iter_2.pth'))
    # A plain segmentor state dict, loadable by mmseg's own tools.
    ckpt = torch.load(
        osp.join(cfg.work_dir, 'iter_2.pth'),
        map_location='cpu',
        weights_only=True)
    assert ckpt['meta']['iter'] == 2
    prefixes = {key.split('.')[0] for key in ckpt['state_dict']}
    assert prefixes == {'backbone', 'decode_head'}


def test_aigcmatch_with_a_mix_loader(tiny_cfg):
    cfg = tiny_cfg('aigcmatch_acdc_3case.py', max_iters=2, validate=False)
    cfg.model.mix_source = 'loader'
    cfg.mix_dataloader = copy.deepcopy(cfg.unlabeled_dataloader)
    recorder = RecordBatches()
    runner = Runner.from_cfg(cfg)
    runner.register_hook(recorder)
    runner.train()

    assert set(runner.train_loop.loaders) == {'labeled', 'unlabeled', 'mix'}
    assert set(recorder.batches[0]) == {'labeled', 'unlabeled', 'mix'}
    # Its own seed: the partners are not the unlabeled images themselves.
    assert recorder.batches[0]['mix'] != recorder.batches[0]['unlabeled']
    hub = scalars(runner)
    for key in ('loss', 'loss_s1', 'loss_s2', 'loss_fp', 'att_entropy'):
        assert math.isfinite(hub[f'train/{key}'])


def test_a_mix_loader_the_model_does_not_read_is_not_built(tiny_cfg):
    cfg = tiny_cfg('aigcmatch_acdc_3case.py', max_iters=1, validate=False)
    assert cfg.model.mix_source == 'batch'
    cfg.mix_dataloader = copy.deepcopy(cfg.unlabeled_dataloader)
    recorder = RecordBatches()
    runner = Runner.from_cfg(cfg)
    runner.register_hook(recorder)
    runner.train()
    assert set(runner.train_loop.loaders) == {'labeled', 'unlabeled'}
    assert set(recorder.batches[0]) == {'labeled', 'unlabeled'}


def test_branch_loaders_are_seeded_apart(tiny_cfg):
    # unlabeled_dataloader may also sit in train_cfg.
    cfg = tiny_cfg('aigcmatch_acdc_3case.py')
    cfg.train_cfg.unlabeled_dataloader = cfg.pop('unlabeled_dataloader')
    runner = Runner.from_cfg(cfg)
    loop = runner.build_train_loop(cfg.train_cfg)
    samplers = {name: ld.sampler for name, ld in loop.loaders.items()}
    assert {
        n: s.seed
        for n, s in samplers.items()
    } == dict(
        labeled=cfg.randomness.seed, unlabeled=cfg.randomness.seed + 1)
    assert all(
        isinstance(s, ResumableInfiniteSampler) for s in samplers.values())
    assert loop.loaders['unlabeled'].dataset.mode == 'unlabeled'


# --------------------------------------------------------------------- #
# resume
# --------------------------------------------------------------------- #
def expected_batches(dataset_cfg, seed: int, batch_size: int,
                     num_batches: int) -> List[List[str]]:
    """Slice files an uninterrupted sampler gives, batch by batch."""
    dataset = DATASETS.build(dataset_cfg)
    indices = iter(ResumableInfiniteSampler(dataset, shuffle=True, seed=seed))
    return [[
        dataset.get_data_info(next(indices))['img_path']
        for _ in range(batch_size)
    ] for _ in range(num_batches)]


def test_resume_continues_at_the_right_iteration_and_sample(
        tiny_cfg, tmp_path, monkeypatch):
    # Uninterrupted: 3 iterations, checkpoints at 2 and 3.
    cfg = tiny_cfg('aigcmatch_acdc_3case.py', max_iters=3, validate=False)
    cfg.default_hooks.checkpoint.interval = 2
    whole = RecordBatches()
    runner = Runner.from_cfg(copy.deepcopy(cfg))
    runner.register_hook(whole)
    runner.train()
    assert sorted(whole.batches) == [0, 1, 2]
    ckpt = osp.join(cfg.work_dir, 'iter_2.pth')
    assert osp.isfile(ckpt)

    # The slices the shipped samplers give at each position.
    seed, batch = cfg.randomness.seed, cfg.train_dataloader.batch_size
    expected = dict(
        labeled=expected_batches(cfg.train_dataloader.dataset, seed, batch, 3),
        unlabeled=expected_batches(cfg.unlabeled_dataloader.dataset, seed + 1,
                                   batch, 3))
    for name in ('labeled', 'unlabeled'):
        assert [whole.batches[i][name] for i in range(3)] == expected[name]
        # Otherwise a resume that restarts the stream would pass unnoticed.
        assert expected[name][2] != expected[name][0]

    # Resume from iteration 2, counting every slice loaded.
    loaded = []
    get_item = ACDCDataset.__getitem__

    def counting_get_item(self, idx):
        loaded.append((self.mode, idx))
        return get_item(self, idx)

    monkeypatch.setattr(ACDCDataset, '__getitem__', counting_get_item)
    cfg.work_dir = str(tmp_path / 'resumed')
    cfg.resume = True
    cfg.load_from = ckpt
    resumed = RecordBatches()
    runner = Runner.from_cfg(cfg)
    runner.register_hook(resumed)
    runner.train()

    assert runner.iter == 3
    assert sorted(resumed.batches) == [2]  # one iteration, the third
    for name in ('labeled', 'unlabeled'):
        assert resumed.batches[2][name] == expected[name][2]
        assert resumed.batches[2][name] == whole.batches[2][name]
    # Skipped, not replayed: one batch per branch was loaded.
    assert sorted(
        mode
        for mode, _ in loaded) == ['labeled'] * batch + ['unlabeled'] * batch


# --------------------------------------------------------------------- #
# bad input at build time
# --------------------------------------------------------------------- #
def build_loop(cfg):
    runner = Runner.from_cfg(cfg)
    return runner.build_train_loop(cfg.train_cfg)


def test_semi_supervised_loop_needs_an_unlabeled_loader(tiny_cfg):
    cfg = tiny_cfg('aigcmatch_acdc_3case.py')
    cfg.pop('unlabeled_dataloader')
    with pytest.raises(
            ValueError,
            match='SemiSupervisedIterLoop needs an unlabeled dataloader: set '
            '`unlabeled_dataloader`'):
        build_loop(cfg)


def test_batch_partner_needs_two_unlabeled_images(tiny_cfg):
    cfg = tiny_cfg('aigcmatch_acdc_3case.py')
    cfg.unlabeled_dataloader.batch_size = 1
    with pytest.raises(
            ValueError,
            match="mix_source='batch' pairs each unlabeled image with another"
            '.* must be >= 2, got 1'):
        build_loop(cfg)


def test_loader_partner_needs_a_mix_loader(tiny_cfg):
    cfg = tiny_cfg('aigcmatch_acdc_3case.py')
    cfg.model.mix_source = 'loader'
    cfg.pop('mix_dataloader')  # the shipped configs have one
    with pytest.raises(
            ValueError, match="mix_source='loader' needs a `mix_dataloader`"):
        build_loop(cfg)


def test_loader_partner_needs_the_unlabeled_batch_size(tiny_cfg):
    cfg = tiny_cfg('aigcmatch_acdc_3case.py')
    cfg.model.mix_source = 'loader'
    cfg.mix_dataloader = copy.deepcopy(cfg.unlabeled_dataloader)
    cfg.mix_dataloader.batch_size = 3
    with pytest.raises(
            ValueError,
            match=r"mix_source='loader': the mix batch size \(3\) must equal "
            r'the unlabeled batch size \(2\)'):
        build_loop(cfg)


def test_resumable_sampler_rejects_a_negative_skip(tiny_acdc_root,
                                                   val_one_patient):
    dataset = ACDCDataset(
        data_root=tiny_acdc_root,
        split=val_one_patient,
        mode='volume',
        pipeline=[])
    sampler = ResumableInfiniteSampler(dataset, shuffle=True, seed=3)
    with pytest.raises(ValueError, match='cannot skip -1 samples'):
        sampler.skip(-1)
    stream = iter(ResumableInfiniteSampler(dataset, shuffle=True, seed=3))
    reference = [next(stream) for _ in range(7)]
    sampler.skip(5)
    skipped = iter(sampler)
    assert [next(skipped), next(skipped)] == reference[5:7]
    # The skip applies once: the next iterator starts at the beginning.
    again = iter(sampler)
    assert [next(again) for _ in range(7)] == reference
