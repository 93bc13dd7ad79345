"""Test-suite wide set-up."""
import pytest
import torch
from mmengine.registry import init_default_scope

import projects.aigcmatch  # noqa: F401  (registers everything, compat first)

# Tiny tensors: one thread is faster than contending for the CI's 2 cores.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def mmseg_default_scope():
    """Every test starts in the 'mmseg' scope (a Runner built by an earlier
    test may have left another scope current)."""
    init_default_scope('mmseg')
    yield
