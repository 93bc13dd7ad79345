import math
from types import SimpleNamespace

import pytest

from projects.aigcmatch.engine.hooks import UnsupWeightWarmupHook


def test_sigmoid_and_linear_ramps():
    hook = UnsupWeightWarmupHook(warmup_iters=100)
    assert hook.scale(0) == pytest.approx(math.exp(-5))
    assert hook.scale(50) == pytest.approx(math.exp(-5 * 0.25))
    assert hook.scale(100) == hook.scale(10_000) == 1.0
    values = [hook.scale(i) for i in range(101)]
    assert values == sorted(values)  # monotone
    linear = UnsupWeightWarmupHook(warmup_iters=10, shape='linear')
    assert [linear.scale(i) for i in (0, 5, 10)] == [0.0, 0.5, 1.0]
    assert UnsupWeightWarmupHook(warmup_iters=0).scale(0) == 1.0


class _Hub:

    def __init__(self):
        self.scalars = {}

    def update_scalar(self, key, value):
        self.scalars[key] = value


def test_scales_the_unlabeled_weights_from_the_iteration_only():
    hook = UnsupWeightWarmupHook(warmup_iters=10, shape='linear')
    model = SimpleNamespace(
        loss_weights=dict(labeled=1.0, strong=0.5, fp=0.25))
    runner = SimpleNamespace(model=model, iter=4, message_hub=_Hub())
    hook.before_train(runner)
    hook.before_train_iter(runner, batch_idx=0)
    assert model.loss_weights == dict(labeled=1.0, strong=0.2, fp=0.1)
    assert runner.message_hub.scalars['train/unsup_scale'] == 0.4
    runner.iter = 25  # e.g. after a resume
    hook.before_train_iter(runner, batch_idx=0)
    assert model.loss_weights == dict(labeled=1.0, strong=0.5, fp=0.25)


def test_bad_arguments_and_models():
    with pytest.raises(ValueError, match='warmup_iters must be >= 0'):
        UnsupWeightWarmupHook(warmup_iters=-1)
    with pytest.raises(ValueError, match='shape must be one of'):
        UnsupWeightWarmupHook(warmup_iters=5, shape='cosine')
    with pytest.raises(TypeError, match='needs a model with loss_weights'):
        UnsupWeightWarmupHook(5).before_train(
            SimpleNamespace(model=SimpleNamespace(), iter=0))
