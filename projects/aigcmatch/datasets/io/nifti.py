"""NIfTI in and out, in the h5 layout's axis order.

nibabel returns NIfTI arrays indexed (i, j, k) = (X, Y, Z); the h5 arrays are
that array transposed by :data:`NIFTI_TO_DHW`, (D, H, W) = (Z, Y, X) (see the
package docstring).
"""
from __future__ import annotations

import os.path as osp
from typing import Optional, Sequence, Tuple

import nibabel as nib
import numpy as np

from .errors import ConversionError
from .intensity import IntensityNorm, normalise_intensity

#: Transpose from NIfTI (X, Y, Z) to h5 (D, H, W) order; it is its own inverse.
NIFTI_TO_DHW = (2, 1, 0)
NIFTI_AXES = 'zyx'

_NIFTI_EXTS = ('.nii.gz', '.nii')


def case_id_from_path(path: str) -> str:
    """``/a/patient001_frame01.nii.gz`` -> ``patient001_frame01``."""
    name = osp.basename(path)
    for ext in _NIFTI_EXTS:
        if name.endswith(ext):
            return name[:-len(ext)]
    return osp.splitext(name)[0]


def load_nifti(path: str) -> nib.Nifti1Image:
    """Load a 3D NIfTI image; trailing singleton axes (X, Y, Z, 1) are dropped.

    Args:
        path (str): ``.nii`` or ``.nii.gz`` file.

    Returns:
        nib.Nifti1Image: The image, guaranteed 3D.

    Raises:
        ConversionError: Missing or unreadable file, or not a 3D volume.
    """
    if not osp.isfile(path):
        raise ConversionError(f'{path}: file not found')
    try:
        img = nib.load(path)
    except Exception as e:  # nibabel raises several types for a bad file
        raise ConversionError(
            f'{path}: not a readable NIfTI file ({e})') from e
    shape = img.shape
    if len(shape) > 3 and all(s == 1 for s in shape[3:]):
        img = img.slicer[(slice(None), ) * 3 + (0, ) * (len(shape) - 3)]
    if len(img.shape) != 3:
        raise ConversionError(
            f'{path}: expected a 3D volume (X, Y, Z), got a {len(shape)}D '
            f'array of shape {tuple(shape)}')
    return img


def read_label(img: nib.Nifti1Image,
               path: str,
               num_classes: Optional[int] = None) -> np.ndarray:
    """The label map of ``img`` as uint8, checked to hold class indices.

    Args:
        img (nib.Nifti1Image): Loaded label image.
        path (str): Its file, for error messages.
        num_classes (int, optional): If given, every value must be in
            ``0..num_classes-1``.

    Returns:
        np.ndarray: uint8 array in NIfTI (X, Y, Z) order.

    Raises:
        ConversionError: Non-integer, negative, too large values, or values >=
            ``num_classes``.
    """
    arr = np.asanyarray(img.dataobj)
    if not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.isfinite(arr)) or not np.array_equal(
                arr, np.round(arr)):
            bad = arr[~np.isfinite(arr) | (arr != np.round(arr))].ravel()[:3]
            raise ConversionError(
                f'{path}: labels must be integers (class indices), found '
                f'non-integer values such as {bad.tolist()}')
    lo, hi = (arr.min(), arr.max()) if arr.size else (0, 0)
    if lo < 0 or hi > 255:
        raise ConversionError(
            f'{path}: label values must be in 0..255, found {lo}..{hi}')
    if num_classes is not None and hi >= num_classes:
        found = sorted(int(v) for v in np.unique(arr) if v >= num_classes)
        raise ConversionError(
            f'{path}: label values {found} found, expected values in '
            f'0..{num_classes - 1} (num_classes={num_classes})')
    return arr.astype(np.uint8)


def load_case(image_path: str,
              label_path: Optional[str],
              num_classes: Optional[int] = None,
              clip: Optional[Tuple[float, float]] = None,
              norm=None) -> dict:
    """Read an image/label NIfTI pair into the h5 layout's arrays.

    Args:
        image_path (str): Image NIfTI.
        label_path (str, optional): Label NIfTI; None for an unlabeled case.
        num_classes (int, optional): Check labels are in ``0..num_classes-1``.
        clip (tuple[float, float], optional): Intensity clip before
            normalisation.
        norm (IntensityNorm | dict | str, optional): Normalisation scheme
            (:mod:`.intensity`); None: ``'robust_minmax'``, min-max with far
            outliers replaced (a warning names the file).

    Returns:
        dict: ``image`` float32 (D, H, W) in [0, 1], ``label`` uint8
        (D, H, W) or None, ``spacing`` (sz, sy, sx), ``affine`` (4, 4),
        ``qform_code``, ``sform_code``, ``intensity_range``,
        ``intensity_norm`` and ``source_dtype``.

    Raises:
        ConversionError: Any bad input, naming the file.
    """
    img = load_nifti(image_path)
    try:
        raw = np.asanyarray(img.dataobj)
    except Exception as e:
        # a truncated gzip and the like surface only when the data is read
        raise ConversionError(
            f'{image_path}: cannot read the image data ({e})') from e
    if not np.all(np.isfinite(raw)):
        raise ConversionError(
            f'{image_path}: the image holds NaN or infinite values')
    norm = IntensityNorm.from_config(norm)
    windowed = raw.astype(np.float32)
    if clip is not None:
        windowed = np.clip(windowed, clip[0], clip[1])
    image, info = normalise_intensity(windowed, norm, source=image_path)
    intensity_range = (info.low, info.high)
    label = None
    if label_path is not None:
        if not osp.isfile(label_path):
            raise ConversionError(
                f'{label_path}: label file not found (the label of '
                f'{image_path})')
        lab_img = load_nifti(label_path)
        if lab_img.shape != img.shape:
            raise ConversionError(
                f'{label_path}: label shape {tuple(lab_img.shape)} does not '
                f'match the image shape {tuple(img.shape)} of {image_path}')
        if not np.allclose(lab_img.affine, img.affine, atol=1e-3):
            raise ConversionError(
                f'{label_path}: label affine differs from the affine of '
                f'{image_path}: the label would not overlay the image\n'
                f'{np.round(lab_img.affine, 4)}\nvs\n{np.round(img.affine, 4)}'
            )
        label = read_label(lab_img, label_path,
                           num_classes).transpose(NIFTI_TO_DHW)
    zooms = img.header.get_zooms()[:3]
    return dict(
        image=np.ascontiguousarray(image.transpose(NIFTI_TO_DHW)),
        label=None if label is None else np.ascontiguousarray(label),
        spacing=tuple(float(z) for z in zooms[::-1]),
        affine=np.asarray(img.affine, np.float64),
        qform_code=int(img.header['qform_code']),
        sform_code=int(img.header['sform_code']),
        intensity_range=intensity_range,
        intensity_norm=norm.method,
        source_dtype=str(raw.dtype) if clip is None else 'float32')


def dhw_to_nifti(volume: np.ndarray,
                 affine: Optional[np.ndarray] = None,
                 spacing: Optional[Sequence[float]] = None,
                 qform_code: int = 1,
                 sform_code: int = 1) -> nib.Nifti1Image:
    """Wrap a (D, H, W) array (e.g. a prediction) as a NIfTI image.

    Args:
        volume (np.ndarray): (D, H, W) array in the h5 axis order.
        affine (np.ndarray, optional): The source's 4x4 affine (the volume's
            ``affine`` attribute). Without it, a diagonal affine from
            ``spacing`` is used.
        spacing (Sequence[float], optional): (sz, sy, sx) mm, used when
            ``affine`` is None.
        qform_code (int): NIfTI qform code to record. Defaults to 1 (scanner).
        sform_code (int): NIfTI sform code to record. Defaults to 1 (scanner).

    Returns:
        nib.Nifti1Image: Image in the source's NIfTI (X, Y, Z) order.
    """
    if volume.ndim != 3:
        raise ConversionError('dhw_to_nifti: expected a (D, H, W) array, '
                              f'got shape {volume.shape}')
    if affine is None:
        sz, sy, sx = spacing if spacing is not None else (1.0, 1.0, 1.0)
        affine = np.diag([sx, sy, sz, 1.0])
    img = nib.Nifti1Image(
        np.ascontiguousarray(volume.transpose(NIFTI_TO_DHW)), affine)
    img.set_qform(affine, code=int(qform_code))
    img.set_sform(affine, code=int(sform_code))
    img.header.set_xyzt_units('mm')
    return img

