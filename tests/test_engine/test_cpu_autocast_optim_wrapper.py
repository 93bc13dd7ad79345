"""CPUAutocastOptimWrapper: what `tools/train.py --amp` trains with on a CPU
that has bfloat16 kernels."""
import pytest
import torch
import torch.nn as nn
from mmengine.optim import build_optim_wrapper

import projects.aigcmatch  # noqa: F401  (registers the wrapper)
from projects.aigcmatch.engine import CPUAutocastOptimWrapper


def build(model, **kwargs):
    return build_optim_wrapper(
        model,
        dict(
            type='CPUAutocastOptimWrapper',
            optimizer=dict(type='SGD', lr=0.1),
            **kwargs))


def test_forward_in_bfloat16_weights_and_update_in_float32():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(),
                          nn.Conv2d(4, 2, 1))
    wrapper = build(model)
    assert isinstance(wrapper, CPUAutocastOptimWrapper)
    before = model[0].weight.detach().clone()
    x = torch.rand(2, 1, 8, 8)
    with wrapper.optim_context(model):
        out = model(x)
        loss = out.float().square().mean()
    assert out.dtype == torch.bfloat16
    wrapper.update_params(loss)
    assert model[0].weight.dtype == torch.float32
    assert not torch.equal(model[0].weight, before)  # the step was taken
    # outside the context nothing is cast
    assert model(x).dtype == torch.float32


def test_only_bfloat16():
    with pytest.raises(ValueError, match="dtype must be 'bfloat16'"):
        build(nn.Linear(2, 2), dtype='float16')
