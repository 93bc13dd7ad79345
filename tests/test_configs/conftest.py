"""A tiny synthetic ACDC tree for building the configs' datasets.

All 100 ACDC patient names (so the shipped split files resolve), 32x32
slices, 2-3 slices per volume: about 1 s to write.
"""
import pytest
import torch

import projects.aigcmatch  # noqa: F401  (compat first, then registration)
from projects.aigcmatch.datasets.synthetic import make_synthetic_acdc


@pytest.fixture(autouse=True, scope='session')
def one_thread():
    # Tiny convolutions run ~50x slower with 2 threads when the machine's
    # cores are busy (thread hand-offs dominate); one thread is enough here.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope='session')
def tiny_acdc_root(tmp_path_factory) -> str:
    """data_root of a tiny ACDC-layout tree."""
    root = str(tmp_path_factory.mktemp('tiny_acdc') / 'ACDC')
    make_synthetic_acdc(
        root, num_patients=100, image_size=(32, 32), slices=(2, 3))
    return root
