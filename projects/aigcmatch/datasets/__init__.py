"""Datasets in the SSL4MIS/UniMatch h5 layout (registered in mmseg's
DATASETS), their split files, and the slice transforms."""
from . import transforms  # noqa: F401
from .acdc_dataset import ACDCDataset
from .h5_checks import H5DataError, H5Header, read_h5_header
from .h5_slice_dataset import H5SliceDataset
from .split_files import (DEFAULT_PATIENT_PATTERN, SPLITS_ROOT, draw_labeled,
                          draw_splits, patient_of, read_split, resolve_split)
from .synthetic import make_synthetic_acdc, synthesize_patient

__all__ = [
    'H5SliceDataset', 'ACDCDataset', 'H5DataError', 'H5Header',
    'read_h5_header', 'read_split', 'resolve_split', 'patient_of',
    'SPLITS_ROOT', 'DEFAULT_PATIENT_PATTERN', 'draw_splits', 'draw_labeled',
    'make_synthetic_acdc', 'synthesize_patient'
]
