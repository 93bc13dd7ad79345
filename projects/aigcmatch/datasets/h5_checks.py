"""Checks of the h5 files of the SSL4MIS/UniMatch layout, with one clear error.

Two levels: :func:`read_h5_header` opens a file and reads only its header
(keys, shapes, dtypes, the ``spacing`` attribute) — cheap enough to run on
every file when a dataset is built; :func:`check_image_array` and
:func:`check_label_array` look at the values (NaN/inf, label range) and run on
the arrays a loader reads, or on whole files with ``full_check=True``.
Every error names the file and the field and says what was expected.
"""
import math
from dataclasses import dataclass
from typing import Optional, Tuple

import h5py
import numpy as np


class H5DataError(ValueError):
    """An h5 file of the dataset does not hold what the layout promises."""


@dataclass(frozen=True)
class H5Header:
    """What the header of one h5 file says.

    Args:
        shape (tuple[int, ...]): Shape of ``image``.
        has_label (bool): Whether the file holds ``label``.
        spacing (tuple[float, float, float], optional): The ``spacing``
            attribute (sz, sy, sx) in mm, when the file has one.
    """
    shape: Tuple[int, ...]
    has_label: bool
    spacing: Optional[Tuple[float, float, float]] = None


def open_h5(path: str) -> h5py.File:
    """Open an h5 file for reading, with an error that names it.

    Args:
        path (str): File path.

    Returns:
        h5py.File: The open file (use it as a context manager).
    """
    try:
        return h5py.File(path, 'r')
    except FileNotFoundError:
        raise FileNotFoundError(f'{path}: file not found') from None
    except OSError as err:
        raise H5DataError(f'{path}: cannot be read as an HDF5 file ({err}); '
                          'expected an h5 file with datasets "image" and '
                          '"label"') from None


def _read_spacing(path: str, f: h5py.File) -> Optional[Tuple[float, ...]]:
    if 'spacing' not in f.attrs:
        return None
    raw = np.asarray(f.attrs['spacing']).ravel()
    values = tuple(float(v) for v in raw) if raw.dtype.kind in 'iuf' else ()
    if len(values) != 3 or not all(math.isfinite(v) and v > 0 for v in values):
        raise H5DataError(
            f'{path}: attribute "spacing" is '
            f'{np.asarray(f.attrs["spacing"])!r}'
            '; expected 3 positive voxel sizes in mm (sz, sy, sx) in the '
            "array's axis order")
    return values


def read_h5_header(path: str, ndim: int, require_label: bool) -> H5Header:
    """Check the header of one file without reading its arrays.

    Args:
        path (str): File path.
        ndim (int): Expected number of image axes: 2 for a slice file
            (H, W), 3 for a volume file (D, H, W).
        require_label (bool): Whether ``label`` must be present.

    Returns:
        H5Header: Shape, label presence and spacing.

    Raises:
        H5DataError: On a missing key, a wrong number of axes, a label whose
            shape differs from the image's or a non-integer label dtype.
    """
    kind = 'slice (H, W)' if ndim == 2 else 'volume (D, H, W)'
    with open_h5(path) as f:
        if 'image' not in f:
            raise H5DataError(
                f'{path}: no dataset "image" (found: {sorted(f.keys())}); '
                f'expected "image" holding a float {kind}')
        image = f['image']
        if not isinstance(image, h5py.Dataset) or image.ndim != ndim:
            shape = getattr(image, 'shape', 'a group')
            raise H5DataError(f'{path}: "image" has shape {shape}; expected '
                              f'a {kind} array')
        if image.dtype.kind not in 'fiu':
            raise H5DataError(f'{path}: "image" has dtype {image.dtype}; '
                              'expected a float (or integer) array')
        has_label = 'label' in f
        if require_label and not has_label:
            raise H5DataError(
                f'{path}: no dataset "label" (found: {sorted(f.keys())}); '
                'expected an integer "label" of the image\'s shape (labels '
                "are needed in mode 'labeled' and 'volume')")
        if has_label:
            label = f['label']
            if not isinstance(label, h5py.Dataset) or (label.shape
                                                       != image.shape):
                shape = getattr(label, 'shape', 'a group')
                raise H5DataError(
                    f'{path}: "label" has shape {shape} but "image" has '
                    f'{image.shape}; expected the same shape')
            if label.dtype.kind not in 'iub':
                raise H5DataError(
                    f'{path}: "label" has dtype {label.dtype}; expected an '
                    'integer class-index array (e.g. uint8)')
        spacing = _read_spacing(path, f)
        return H5Header(tuple(image.shape), has_label, spacing)


def check_image_array(path: str, image: np.ndarray) -> None:
    """Raise if an image array holds NaN or inf.

    Args:
        path (str): File the array came from (for the message).
        image (np.ndarray): The array.
    """
    if image.dtype.kind == 'f' and not np.isfinite(image).all():
        bad = int(np.size(image) - np.isfinite(image).sum())
        raise H5DataError(f'{path}: "image" holds {bad} NaN/inf value(s); '
                          'expected finite intensities')


def check_label_array(path: str, label: np.ndarray, num_classes: int) -> None:
    """Raise if a label array holds a value outside ``[0, num_classes)``.

    Args:
        path (str): File the array came from (for the message).
        label (np.ndarray): The array.
        num_classes (int): Number of classes of the dataset.
    """
    if label.size == 0:
        return
    low, high = int(label.min()), int(label.max())
    if low < 0 or high >= num_classes:
        bad = np.unique(label[(label < 0) | (label >= num_classes)])
        raise H5DataError(
            f'{path}: "label" holds value(s) {bad.tolist()[:10]}; expected '
            f'class indices 0..{num_classes - 1} ({num_classes} classes)')


def check_h5_values(path: str, num_classes: int, check_label: bool) -> None:
    """Read a whole file and check its values (the ``full_check`` level).

    Args:
        path (str): File path (its header must already have passed).
        num_classes (int): Number of classes of the dataset.
        check_label (bool): Whether to read and check ``label`` too.
    """
    with open_h5(path) as f:
        check_image_array(path, f['image'][()])
        if check_label:
            check_label_array(path, f['label'][()], num_classes)
