"""randomness=dict(seed=S, deterministic=True): two CPU runs agree to the
last bit; another seed gives another run; validation does not shift the
training stream."""
import itertools

import pytest
from mmengine.runner import Runner

from reliability_helpers import tiny_config

_runs = itertools.count()


def losses(data, work_dir, seed=0, val_interval=100, max_iters=3):
    cfg = tiny_config(
        data,
        work_dir=str(work_dir),
        max_iters=max_iters,
        checkpoint_interval=100,
        val_interval=val_interval,
        seed=seed)
    cfg.model.conf_thresh = 0.0  # every loss term sees its random draws
    # one Runner per name: two built in the same second would share the
    # message hub of their (timestamped) default experiment name
    cfg.experiment_name = f'determinism_{next(_runs)}'
    runner = Runner.from_cfg(cfg)
    runner.train()
    hub = runner.message_hub
    keys = sorted(k for k in hub.log_scalars if k.startswith('train/loss'))
    return {k: hub.get_scalar(k).data[0].tolist() for k in keys}


@pytest.fixture(scope='module')
def seed0(small_acdc, tmp_path_factory):
    return losses(small_acdc, tmp_path_factory.mktemp('seed0'))


def test_same_seed_same_losses(seed0, small_acdc, tmp_path):
    again = losses(small_acdc, tmp_path)
    assert 'train/loss_s1' in again and len(again['train/loss']) == 3
    assert again == seed0


def test_other_seed_other_losses(seed0, small_acdc, tmp_path):
    other = losses(small_acdc, tmp_path, seed=1)
    assert other['train/loss'] != seed0['train/loss']


def test_validation_does_not_shift_training(seed0, small_acdc, tmp_path):
    # validating after every iteration draws from the global generators
    # (loader start-up); RandomStateHook gives training its states back
    validated = losses(small_acdc, tmp_path, val_interval=1)
    assert validated == seed0
