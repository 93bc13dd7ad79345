"""Tiny ACDC-layout trees in tmp_path, including broken files on demand.

Layout written (as SSL4MIS/UniMatch distribute ACDC)::

    root/data/slices/<case>_slice_<z>.h5  image float32, label uint8 (H, W)
    root/data/<case>.h5                   image, label (D, H, W); spacing

Every slice has a few labelled pixels of each class (RV=1, Myo=2, LV=3), at
positions that depend on the slice so that geometry is visible.
"""
import os
import os.path as osp
from typing import Callable, Dict, Optional, Sequence, Tuple

import h5py
import numpy as np
import pytest

import projects.aigcmatch  # noqa: F401  (registers the components)

SHAPE = (24, 20)


def write_h5(path: str, attrs: Optional[Dict] = None, **arrays) -> str:
    """Write arrays (and attributes) into a fresh h5 file."""
    os.makedirs(osp.dirname(path), exist_ok=True)
    with h5py.File(path, 'w') as f:
        for key, value in arrays.items():
            f.create_dataset(key, data=value)
        for key, value in (attrs or {}).items():
            f.attrs[key] = value
    return path


def make_case(seed: int,
              num_slices: int,
              shape: Tuple[int, int] = SHAPE) -> Tuple[np.ndarray, np.ndarray]:
    """A (D, H, W) image in [0, 1] and a label with every class present."""
    rng = np.random.default_rng(seed)
    label = np.zeros((num_slices, ) + tuple(shape), np.uint8)
    for z in range(num_slices):
        label[z, 2:5, 2 + z:5 + z] = 1
        label[z, 8:11, 8:12] = 2
        label[z, 14 + z % 3:18, 10:15] = 3
    image = label * 0.25 + rng.uniform(0, 0.2, label.shape)
    image = (image - image.min()) / (image.max() - image.min())
    return image.astype(np.float32), label


def write_case(root: str,
               case: str,
               num_slices: int = 3,
               shape: Tuple[int, int] = SHAPE,
               spacing: Optional[Tuple[float, float,
                                       float]] = (10., 1.5, 1.25),
               seed: int = 0) -> None:
    """Write the slice files and the volume file of one case."""
    image, label = make_case(seed, num_slices, shape)
    for z in range(num_slices):
        write_h5(
            osp.join(root, 'data', 'slices', f'{case}_slice_{z}.h5'),
            image=image[z],
            label=label[z])
    attrs = None if spacing is None else dict(spacing=np.asarray(spacing))
    write_h5(
        osp.join(root, 'data', f'{case}.h5'),
        attrs=attrs,
        image=image,
        label=label)


def write_tree(
    root: str,
    patients: Sequence[str],
    frames: Sequence[int] = (1, 2),
    num_slices: int = 3,
    shape: Tuple[int, int] = SHAPE,
    spacing: Optional[Tuple[float, float, float]] = (10., 1.5, 1.25)
) -> str:
    """Write a tree of patients × frames; returns ``root``."""
    for i, patient in enumerate(patients):
        for frame in frames:
            write_case(
                root,
                f'{patient}_frame{frame:02d}',
                num_slices,
                shape,
                spacing,
                seed=100 * i + frame)
    return root


def write_split(path: str, ids: Sequence[str]) -> str:
    """Write a split file, one id per line."""
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(''.join(f'{i}\n' for i in ids))
    return path


#: Patients of the small tree: one labeled (1-case), one val, one test,
#: two other training patients.
SMALL_PATIENTS = ('patient099', 'patient038', 'patient002', 'patient001',
                  'patient050')


@pytest.fixture
def acdc_root(tmp_path) -> str:
    """Five patients, 2 frames, 3 slices of 24x20 each."""
    return write_tree(str(tmp_path / 'ACDC'), SMALL_PATIENTS)


@pytest.fixture(scope='session')
def full_acdc_root(tmp_path_factory) -> str:
    """All 100 ACDC patient names (2 frames, 2 slices of 8x8): the shipped
    splits resolve on it."""
    root = str(tmp_path_factory.mktemp('full') / 'ACDC')
    return write_tree(
        root, [f'patient{i:03d}' for i in range(1, 101)],
        num_slices=2,
        shape=(8, 8))


@pytest.fixture
def h5_writer() -> Callable:
    """``write_h5(path, attrs=None, **arrays)``, for broken files."""
    return write_h5


@pytest.fixture
def split_writer() -> Callable:
    """``write_split(path, ids)``."""
    return write_split


@pytest.fixture
def case_writer() -> Callable:
    """``write_case(root, case, num_slices, shape, spacing, seed)``."""
    return write_case


@pytest.fixture
def tree_writer() -> Callable:
    """``write_tree(root, patients, frames, num_slices, shape, spacing)``."""
    return write_tree
