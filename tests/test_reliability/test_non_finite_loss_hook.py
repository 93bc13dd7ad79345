"""The NaN guard: a planted NaN stops the run, naming term and iteration,
before the bad weights are checkpointed."""
import os.path as osp

import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmengine.model import BaseModel
from mmengine.runner import Runner
from mmseg.registry import MODELS
from torch import nn
from torch.utils.data import DataLoader

from projects.aigcmatch.engine import NonFiniteLossHook


@MODELS.register_module(force=True)
class PlantedNaNModel(BaseModel):
    """A linear model whose ``loss_b`` is NaN on the given (1-based)
    iterations."""

    def __init__(self, nan_at=()):
        super().__init__()
        self.linear = nn.Linear(2, 1)
        self.nan_at = set(nan_at)
        self.calls = 0

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.linear(torch.stack(inputs))
        if mode != 'loss':
            return out
        self.calls += 1
        planted = float('nan') if self.calls in self.nan_at else 0.0
        return dict(loss_a=out.pow(2).mean(), loss_b=out.mean() * 0 + planted)


def train(tmp_path, nan_at, max_iters=5, **hook_args):
    data = [dict(inputs=torch.tensor([float(i), 1.0])) for i in range(8)]
    runner = Runner(
        model=PlantedNaNModel(nan_at),
        work_dir=str(tmp_path),
        experiment_name=f'nan_{tmp_path.name}',
        train_dataloader=DataLoader(
            data, batch_size=2, shuffle=False, collate_fn=pseudo_collate),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=1, by_epoch=False),
            logger=dict(type='LoggerHook', interval=1)),
        custom_hooks=[dict(type='NonFiniteLossHook', **hook_args)],
        default_scope='mmseg')
    runner.train()
    return runner


def test_planted_nan_stops_the_run(tmp_path):
    with pytest.raises(
            FloatingPointError,
            match=r'non-finite loss at iteration 3: loss_b=nan, loss=nan '
            r'\(1 iteration\(s\) in a row\)\. Training stopped.*the last '
            r'one is .*iter_2\.pth'):
        train(tmp_path, nan_at=[3])
    assert osp.isfile(tmp_path / 'iter_2.pth')
    assert not osp.exists(tmp_path / 'iter_3.pth')  # NaN weights not saved


def test_clean_run_is_untouched(tmp_path):
    runner = train(tmp_path, nan_at=[])
    assert runner.iter == 5


def test_consecutive_limit(tmp_path):
    # a single NaN is tolerated with a limit of 2 ...
    assert train(tmp_path / 'a', nan_at=[3], max_consecutive=2).iter == 5
    # ... two in a row are not
    with pytest.raises(
            FloatingPointError,
            match=r'iteration 4: loss_b=nan, loss=nan \(2 iteration\(s\) in '
            'a row'):
        train(tmp_path / 'b', nan_at=[3, 4], max_consecutive=2)


def test_bad_arguments():
    with pytest.raises(ValueError, match=r'max_consecutive=0; expected an '
                       'integer >= 1'):
        NonFiniteLossHook(max_consecutive=0)


@pytest.mark.skipif(
    not torch.cuda.is_available(), reason='AmpOptimWrapper needs CUDA')
def test_amp_tolerates_skipped_steps(tmp_path):
    """With AMP the grad scaler skips a NaN step: the default limit is
    amp_max_consecutive, so one NaN does not stop the run."""
    data = [dict(inputs=torch.tensor([float(i), 1.0])) for i in range(8)]

    def amp_train(work_dir, nan_at):
        runner = Runner(
            model=PlantedNaNModel(nan_at),
            work_dir=str(work_dir),
            experiment_name=f'amp_{work_dir.name}',
            train_dataloader=DataLoader(
                data, batch_size=2, collate_fn=pseudo_collate),
            train_cfg=dict(by_epoch=False, max_iters=8),
            optim_wrapper=dict(
                type='AmpOptimWrapper',
                optimizer=dict(type='SGD', lr=0.01)),
            custom_hooks=[dict(type='NonFiniteLossHook',
                               amp_max_consecutive=3)],
            default_scope='mmseg')
        runner.train()
        return runner

    runner = amp_train(tmp_path / 'one', nan_at=[2])
    assert runner.iter == 8
    assert all(torch.isfinite(p).all() for p in runner.model.parameters())
    with pytest.raises(FloatingPointError, match=r'iteration 5: .*\(3 '
                       r'iteration\(s\) in a row\)'):
        amp_train(tmp_path / 'three', nan_at=[3, 4, 5])
