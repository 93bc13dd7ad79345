"""Test-suite wide set-up."""
import nibabel as nib
import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope

import projects.aigcmatch  # noqa: F401  (registers everything, compat first)

# Tiny tensors: one thread is faster than contending for the CI's 2 cores
# (thread hand-offs dominate tiny convolutions). Set once, here, for all tests.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def mmseg_default_scope():
    """Every test starts in the 'mmseg' scope (a Runner built by an earlier
    test may have left another scope current)."""
    init_default_scope('mmseg')
    yield


@pytest.fixture(scope='session')
def tiny_acdc_root(tmp_path_factory) -> str:
    """data_root of a tiny ACDC-layout tree: all 100 ACDC patient names (so
    the shipped split files resolve), 32x32 slices, 2-3 slices per volume
    (about 1 s to write). Tests must not write into it."""
    from projects.aigcmatch.datasets.synthetic import make_synthetic_acdc
    root = str(tmp_path_factory.mktemp('tiny_acdc') / 'ACDC')
    make_synthetic_acdc(
        root, num_patients=100, image_size=(32, 32), slices=(2, 3), seed=0)
    return root


#: Shape (x, y, z) of the stand-in for the Colin27 T1 / AAL pair.
COLIN27_STAND_IN_SHAPE = (60, 24, 20)


def write_colin27_stand_in(folder, affine=None):
    """``ch2.nii.gz`` / ``aal.nii.gz`` shaped like Debian's mricron-data
    files, small: a brain spanning x 5..54 with AAL regions of every class
    in the medial slabs and cortex only laterally. Returns (image, aal,
    affine)."""
    if affine is None:
        affine = np.array([[1., 0, 0, -30], [0, 1, 0, -12], [0, 0, 1, -10],
                           [0, 0, 0, 1]])
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, COLIN27_STAND_IN_SHAPE).astype(np.uint8)
    aal = np.zeros(COLIN27_STAND_IN_SHAPE, np.uint8)
    aal[5:55, 4:20, 12:18] = 3  # Frontal_Sup_L: cortex
    aal[5:55, 4:20, 10:12] = 80  # Heschl_R: cortex too
    aal[15:45, 8:14, 6:10] = 73  # Putamen_L: deep grey
    aal[12:48, 14:20, 2:6] = 100  # Cerebelum_6_R: cerebellum
    folder.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(image, affine), str(folder / 'ch2.nii.gz'))
    nib.save(nib.Nifti1Image(aal, affine), str(folder / 'aal.nii.gz'))
    return image, aal, affine


@pytest.fixture
def colin27_stand_in():
    """:func:`write_colin27_stand_in`, for tests that vary the files."""
    return write_colin27_stand_in


@pytest.fixture(scope='session')
def colin27_stand_in_root(tmp_path_factory) -> str:
    """data_root of the stand-in converted as the real set is."""
    from projects.aigcmatch.datasets.colin27_aal import build_colin27_aal
    base = tmp_path_factory.mktemp('colin27')
    write_colin27_stand_in(base / 'templates')
    root = base / 'colin27_aal'
    build_colin27_aal(
        str(base / 'templates' / 'ch2.nii.gz'),
        str(base / 'templates' / 'aal.nii.gz'), str(root))
    return str(root)
