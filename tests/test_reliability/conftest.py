"""Fixtures of the reliability tests: a tiny synthetic ACDC tree."""
import os.path as osp
from typing import Dict

import pytest

from config_shrink import CROP
from reliability_helpers import TINY_SPLITS, write_split


@pytest.fixture(scope='session')
def small_acdc(tmp_path_factory) -> Dict[str, str]:
    """A small ACDC tree: five synthetic patients (2 frames, 2-3 slices of
    ~32x32) and split files; returns ``root`` and one split path per name.
    (``tiny_acdc_root`` of the root conftest is another tree: all 100 ACDC
    patient names, no split files.)"""
    from projects.aigcmatch.datasets.synthetic import make_synthetic_acdc
    root = str(tmp_path_factory.mktemp('tiny') / 'acdc')
    make_synthetic_acdc(
        root, num_patients=5, image_size=(CROP, CROP), slices=(2, 3), seed=0)
    paths = {
        name: write_split(osp.join(root, 'splits', f'{name}.txt'), ids)
        for name, ids in TINY_SPLITS.items()
    }
    return dict(root=root, **paths)

