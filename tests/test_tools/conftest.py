"""A tiny ACDC-layout tree for end-to-end tool tests."""
import pytest
from tiny_configs import CROP

from projects.aigcmatch.datasets.synthetic import make_synthetic_acdc


@pytest.fixture(scope='session')
def tiny_acdc(tmp_path_factory):
    root = tmp_path_factory.mktemp('tiny_acdc')
    make_synthetic_acdc(
        str(root), num_patients=100, image_size=(CROP, CROP), slices=(2, 3),
        seed=0)
    return str(root)
