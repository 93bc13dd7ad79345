"""Reading scans to segment and writing predictions back in the same format.

Supported inputs, how they are read, and what is written for them
(``<case>`` is the file stem):

* ``.nii`` / ``.nii.gz``: a 3D volume; (X, Y, Z) becomes (D, H, W) =
  (Z, Y, X), the converters' convention. Written: ``<case>_seg.nii[.gz]``,
  uint8, with the input's shape, affine, header and qform/sform codes.
* ``.h5`` (the layout): dataset ``image``, (D, H, W) or (H, W). Written:
  ``<case>_seg.h5`` with ``label`` (the prediction), ``image`` and the
  input's attributes.
* ``.png``: one slice (H, W); colour is turned to gray. Written:
  ``<case>_seg.png``, uint8 labels.
* ``.npy``: (H, W) or (D, H, W). Written: ``<case>_seg.npy``, uint8 labels.
  An (H, W, C) array with a short last axis (C <= 4, e.g. a colour or
  two-channel image) is refused: it would be segmented as H slices of
  W x C pixels.

Probabilities (``--save-probs``) go to ``<case>_probs.nii[.gz]`` (4D: X, Y,
Z, C), the ``probs`` dataset (C, D, H, W) of ``<case>_seg.h5``, or
``<case>_probs.npy`` (C, ...). Spacing is kept in the image's axis order,
(sz, sy, sx) mm for volumes.

This module reads; the writing (:func:`output_paths`,
:func:`write_prediction`) is in :mod:`.scan_writer`.
"""
from __future__ import annotations

import os
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import h5py
import nibabel as nib
import numpy as np

from ..datasets.io.nifti import NIFTI_TO_DHW, case_id_from_path, load_nifti

#: Suffixes recognised as inputs; ``.nii.gz`` before ``.nii``.
INPUT_SUFFIXES = ('.nii.gz', '.nii', '.h5', '.png', '.npy')

# In a folder, stems ending like this are labels, 4D cines or our own
# outputs, not scans.
_FOLDER_SKIP_STEMS = ('_gt', '_4d', '_seg', '_probs')


@dataclass
class Scan:
    """One image to segment, and what is needed to write its prediction.

    Attributes:
        case_id (str): Name of the case (the file stem for files).
        image (np.ndarray): Raw intensities, float32, (D, H, W) or (H, W).
        fmt (str): ``'nifti'``, ``'h5'``, ``'png'``, ``'npy'`` or ``'array'``.
        path (str, optional): Source file.
        spacing (tuple, optional): Voxel size in mm in the image's axis order.
        nifti (nib.Nifti1Image, optional): Source image (header and affine
            template).
        nifti_shape (tuple, optional): The NIfTI's shape as stored (may
            carry trailing 1s).
        h5_attrs (dict): Attributes of the source h5 file.
        phase (str, optional): ``'ED'``/``'ES'`` if the file says so (h5
            ``phase`` attribute).
    """
    case_id: str
    image: np.ndarray
    fmt: str
    path: Optional[str] = None
    spacing: Optional[Tuple[float, ...]] = None
    nifti: Optional[nib.Nifti1Image] = None
    nifti_shape: Optional[Tuple[int, ...]] = None
    h5_attrs: Dict[str, object] = field(default_factory=dict)
    phase: Optional[str] = None

    @property
    def num_slices(self) -> int:
        """Number of 2D slices the model will see."""
        return 1 if self.image.ndim == 2 else int(self.image.shape[0])

    @property
    def file_shape(self) -> Tuple[int, ...]:
        """Shape as stored in the file.

        NIfTI: (X, Y, Z[, 1...]); other formats: the array's shape.
        """
        return tuple(self.nifti_shape) if self.nifti_shape else tuple(
            self.image.shape)

    @property
    def file_spacing(self) -> Optional[Tuple[float, ...]]:
        """Spacing in the file's axis order.

        NIfTI: (sx, sy, sz); other formats: the array's order.
        """
        if self.spacing is None:
            return None
        return tuple(self.spacing[::-1]) if self.fmt == 'nifti' else tuple(
            self.spacing)


def input_suffix(path: str) -> Optional[str]:
    """The supported suffix of ``path`` (lower case), or None."""
    name = path.lower()
    for suffix in INPUT_SUFFIXES:
        if name.endswith(suffix):
            return suffix
    return None


def _stem(path: str) -> str:
    suffix = input_suffix(path)
    name = osp.basename(path)
    return name[:-len(suffix)] if suffix else case_id_from_path(path)


def find_inputs(paths: Sequence[str]) -> Tuple[List[str], List[str]]:
    """Expand files and folders (not recursive) into the scans to segment.

    In a folder, files whose stem ends with ``_gt``, ``_4d``, ``_seg`` or
    ``_probs`` (labels, cine series, earlier outputs) are skipped; a file
    named explicitly never is.

    Args:
        paths (Sequence[str]): Files and folders from the command line.

    Returns:
        tuple[list[str], list[str]]: The files to segment, and the files
        skipped.

    Raises:
        FileNotFoundError: A path does not exist.
        ValueError: A file has an unsupported suffix, a folder holds no
            supported file, or two inputs have the same case id (their
            outputs would collide).
    """
    files, skipped = [], []
    for path in paths:
        if osp.isdir(path):
            found = []
            for name in sorted(os.listdir(path)):
                full = osp.join(path, name)
                if not osp.isfile(full) or input_suffix(name) is None:
                    continue
                if _stem(name).lower().endswith(_FOLDER_SKIP_STEMS):
                    skipped.append(full)
                else:
                    found.append(full)
            if not found:
                raise ValueError(
                    f'{path}: folder holds no scan to segment (expected files '
                    f"ending in {', '.join(INPUT_SUFFIXES)})")
            files.extend(found)
        elif osp.isfile(path):
            if input_suffix(path) is None:
                raise ValueError(
                    f'{path}: not a supported input; expected a NIfTI volume '
                    f"(.nii, .nii.gz), an h5 volume (.h5), a PNG or NPY slice")
            files.append(path)
        else:
            raise FileNotFoundError(f'{path}: no such file or folder')
    seen: Dict[str, str] = {}
    for path in files:
        case = _stem(path)
        if case in seen:
            raise ValueError(
                f'{path} and {seen[case]} have the same case id {case!r}: '
                'their outputs would overwrite each other; segment them '
                'separately')
        seen[case] = path
    return files, skipped


#: A trailing axis this short is a channel axis, not an image width.
_MAX_CHANNELS = 4


def _refuse_channel_axis(image: np.ndarray, where: str) -> None:
    """Refuse an (H, W, C) array with a short channel axis.

    A 3D array is read as a (D, H, W) volume, so a colour or two-channel 2D
    image saved as (H, W, C) would be segmented as H "slices" of W x C
    pixels: a silent wrong answer.
    """
    if image.ndim == 3 and image.shape[-1] <= _MAX_CHANNELS < min(
            image.shape[:2]):
        h, w, c = image.shape
        raise ValueError(
            f'{where}: shape {image.shape} looks like an (H, W, C) image '
            f'with {c} channel(s) on the last axis; expected an (H, W) '
            f'slice or a (D, H, W) volume (a {h}-slice volume of {w} x {c} '
            'pixels is not an image to segment). Save the channel to '
            'segment, e.g. array[..., 0], or a gray image; a volume with '
            'its slices on the last axis as array.transpose(2, 0, 1)')


def _check_finite(image: np.ndarray, path: str) -> None:
    if not np.all(np.isfinite(image)):
        raise ValueError(f'{path}: the image holds NaN or infinite values')


def _read_nifti(path: str) -> Scan:
    # ConversionError (a ValueError) names the file, e.g. for a 4D image
    img = load_nifti(path)
    try:
        raw = np.asanyarray(img.dataobj)
    except Exception as e:  # a truncated gzip shows only when data is read
        raise ValueError(f'{path}: cannot read the image data ({e})') from e
    if not np.issubdtype(raw.dtype, np.number) or np.iscomplexobj(raw):
        raise ValueError(
            f'{path}: expected real-valued intensities, got dtype {raw.dtype}')
    image = np.ascontiguousarray(
        raw.astype(np.float32).transpose(NIFTI_TO_DHW))
    _check_finite(image, path)
    zooms = img.header.get_zooms()[:3]
    return Scan(
        case_id=_stem(path),
        image=image,
        fmt='nifti',
        path=path,
        spacing=tuple(float(z) for z in zooms[::-1]),
        nifti=img,
        nifti_shape=tuple(nib.load(path).shape))


def _read_h5(path: str) -> Scan:
    try:
        f = h5py.File(path, 'r')
    except OSError as e:
        raise ValueError(f'{path}: not a readable HDF5 file ({e})') from e
    with f:
        if 'image' not in f or not isinstance(f['image'], h5py.Dataset):
            raise ValueError(
                f"{path}: expected a dataset 'image' (D, H, W) or (H, W), "
                f'found {sorted(f.keys())}')
        image = f['image'][()]
        attrs = {
            k: (v.decode() if isinstance(v, bytes) else v)
            for k, v in f.attrs.items()
        }
    if image.ndim not in (2, 3) or not np.issubdtype(image.dtype, np.number):
        raise ValueError(
            f"{path}: 'image' must be a numeric (D, H, W) volume or (H, W) "
            f'slice, got shape {image.shape} and dtype {image.dtype}')
    _refuse_channel_axis(image, path)
    image = image.astype(np.float32)
    _check_finite(image, path)
    spacing = attrs.get('spacing')
    if spacing is not None:
        spacing = tuple(float(s) for s in np.asarray(spacing).reshape(-1))
        if len(spacing) != image.ndim:
            raise ValueError(
                f"{path}: attribute 'spacing' has {len(spacing)} values, "
                f'expected {image.ndim} (one per axis of the image '
                f'{image.shape})')
    phase = str(attrs.get('phase', '')).upper() or None
    return Scan(
        case_id=_stem(path),
        image=image,
        fmt='h5',
        path=path,
        spacing=spacing,
        h5_attrs=attrs,
        phase=phase if phase in ('ED', 'ES') else None)


def _read_png(path: str) -> Scan:
    image = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ValueError(f'{path}: not a readable PNG image')
    if image.ndim == 3:
        channels = image.shape[2]
        if channels == 4:
            image = image[..., :3]
        if channels >= 3 and not (np.array_equal(image[..., 0], image[..., 1])
                                  and np.array_equal(image[..., 0], image[...,
                                                                          2])):
            image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        else:
            image = image[
                ..., 0]  # a gray image stored as RGB: keep its exact values
    return Scan(
        case_id=_stem(path),
        image=image.astype(np.float32),
        fmt='png',
        path=path)


def _read_npy(path: str) -> Scan:
    with open(path, 'rb') as f:
        magic = f.read(6)
    if magic != b'\x93NUMPY':  # np.load would try to unpickle anything else
        raise ValueError(f'{path}: not a readable NPY file (no NPY header)')
    try:
        image = np.load(path, allow_pickle=False)
    except ValueError as e:  # object arrays would need pickle: refused
        raise ValueError(f'{path}: not a plain numeric NPY array ({e})') from e
    except Exception as e:
        raise ValueError(f'{path}: not a readable NPY file ({e})') from e
    if not isinstance(image, np.ndarray) or image.ndim not in (2, 3) or \
            not np.issubdtype(image.dtype, np.number) or \
            np.iscomplexobj(image):
        raise ValueError(
            f'{path}: expected a real (H, W) slice or (D, H, W) volume, got '
            f'shape {getattr(image, "shape", None)} and dtype '
            f'{getattr(image, "dtype", None)}')
    _refuse_channel_axis(image, path)
    image = image.astype(np.float32)
    _check_finite(image, path)
    return Scan(case_id=_stem(path), image=image, fmt='npy', path=path)


_READERS = {
    '.nii.gz': _read_nifti,
    '.nii': _read_nifti,
    '.h5': _read_h5,
    '.png': _read_png,
    '.npy': _read_npy
}


def read_scan(path: str) -> Scan:
    """Read one input file.

    Args:
        path (str): A ``.nii``/``.nii.gz`` volume, an ``.h5`` volume or
            slice of the layout, a ``.png`` or ``.npy`` slice (``.npy`` may
            also be a volume).

    Returns:
        Scan: The image and its metadata.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: Unsupported, unreadable, non-3D NIfTI, non-finite or
            empty input; the message names the file.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: no such file')
    suffix = input_suffix(path)
    if suffix is None:
        raise ValueError(
            f'{path}: not a supported input; expected a NIfTI volume (.nii, '
            '.nii.gz), an h5 volume (.h5), a PNG or NPY slice')
    scan = _READERS[suffix](path)
    if scan.image.size == 0 or min(scan.image.shape) == 0:
        raise ValueError(
            f'{path}: the image is empty (shape {scan.image.shape})')
    return scan


def scan_from_array(array: np.ndarray,
                    spacing: Optional[Sequence[float]] = None,
                    case_id: str = 'array') -> Scan:
    """Wrap an in-memory (H, W) slice or (D, H, W) volume as a :class:`Scan`.

    Args:
        array (np.ndarray): Raw intensities.
        spacing (Sequence[float], optional): Voxel size in mm, one value per
            axis, or 3 values (thickness first) for a 2D slice.
        case_id (str): Name of the case. Defaults to ``'array'``.

    Returns:
        Scan: With ``fmt='array'``.

    Raises:
        ValueError: Not a finite real 2D/3D array, or ``spacing`` of the
            wrong length.
    """
    array = np.asarray(array)
    if array.ndim not in (2, 3) or array.size == 0 or \
            not np.issubdtype(array.dtype, np.number) or \
            np.iscomplexobj(array):
        raise ValueError(
            f'segment(): expected a real (H, W) slice or (D, H, W) volume, '
            f'got shape {array.shape} and dtype {array.dtype}')
    _refuse_channel_axis(array, 'segment() array')
    if spacing is not None and len(spacing) not in (array.ndim, 3):
        raise ValueError(f'segment(): spacing {tuple(spacing)} needs one '
                         f'value per axis of the array {array.shape}')
    image = array.astype(np.float32)
    _check_finite(image, 'segment() array')
    return Scan(
        case_id=case_id,
        image=image,
        fmt='array',
        spacing=None if spacing is None else tuple(float(s) for s in spacing))
