import os
import pickle

import numpy as np
import pytest
import torch
import torch.nn as nn
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

from projects.aigcmatch.compat import safe_load_checkpoint


class TinyModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(2, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.linear(torch.stack(inputs))
        if mode == 'loss':
            return dict(loss=out.pow(2).mean())
        return [out]


class TinyDataset(Dataset):
    metainfo = dict(classes=('a', 'b'))

    def __len__(self):
        return 8

    def __getitem__(self, i):
        return dict(inputs=torch.full((2, ), float(i)))


def _train(work_dir, max_iters=4, resume=False):
    runner = Runner(
        model=TinyModel(),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=TinyDataset(),
            sampler=dict(type='DefaultSampler', shuffle=True),
            batch_size=2),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        param_scheduler=dict(
            type='PolyLR', power=0.9, by_epoch=False, eta_min=0, end=8),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=2,
                            by_epoch=False)),
        randomness=dict(seed=1),
        resume=resume,
        experiment_name=f'exp_{max_iters}_{resume}')
    runner.train()
    return runner


def test_mmengine_checkpoint_loads_weights_only_and_resumes(tmp_path):
    _train(tmp_path)
    ckpt = safe_load_checkpoint(os.path.join(tmp_path, 'iter_4.pth'))
    assert ckpt['meta']['iter'] == 4
    assert 'train/loss' in ckpt['message_hub']['log_scalars']
    # mmengine's own resume path (torch.load with the default weights_only)
    runner = _train(tmp_path, max_iters=6, resume=True)
    assert runner.iter == 6


class _Exploit:

    def __reduce__(self):
        return (os.system, ('echo pwned > /dev/null', ))


def test_checkpoint_with_pickled_callable_is_refused(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'meta': _Exploit()}, path)
    with pytest.raises(pickle.UnpicklingError,
                       match=r'evil\.pth.*refusing to load.*system'):
        safe_load_checkpoint(str(path))
    # mmengine's loader refuses it too (weights_only stays on)
    from mmengine.runner import load_checkpoint
    with pytest.raises(pickle.UnpicklingError):
        load_checkpoint(nn.Linear(2, 1), str(path))


def test_history_buffer_getattr_is_not_allow_listed(tmp_path):
    # getattr would let a crafted file reach any attribute of an allowed class
    path = tmp_path / 'getattr.pth'

    class _GetAttr:

        def __reduce__(self):
            return (getattr, (np.ndarray, 'tofile'))

    torch.save({'x': _GetAttr()}, path)
    with pytest.raises(pickle.UnpicklingError, match='getattr'):
        safe_load_checkpoint(str(path))
