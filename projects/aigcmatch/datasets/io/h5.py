"""The h5 layout's files: writing a case (volume + slices), reading a volume,
and writing a volume back as NIfTI."""
from __future__ import annotations

import os
import os.path as osp
from typing import Optional

import h5py
import nibabel as nib
import numpy as np

from .errors import ConversionError
from .nifti import NIFTI_AXES, dhw_to_nifti

_H5_KW = dict(compression='gzip', compression_opts=4, shuffle=True)


def write_case(data_dir: str,
               case_id: str,
               case: dict,
               slices: bool = True,
               extra_attrs: Optional[dict] = None) -> int:
    """Write one case as ``data_dir/<case_id>.h5`` plus its slices.

    Args:
        data_dir (str): The layout's ``ROOT/data`` folder.
        case_id (str): Volume id (file stem).
        case (dict): As returned by :func:`load_case` (``image``, ``label`` may
            be None, ``spacing``, optional ``affine``, ``qform_code``,
            ``sform_code``, ``intensity_range``, ``intensity_norm``,
            ``source_dtype``).
        slices (bool): Also write ``data_dir/slices/<case_id>_slice_<k>.h5``.
        extra_attrs (dict, optional): More volume attributes (e.g. ACDC phase
            and group).

    Returns:
        int: Number of slices (D).
    """
    image, label = case['image'], case.get('label')
    with h5py.File(osp.join(data_dir, f'{case_id}.h5'), 'w') as f:
        f.create_dataset('image', data=image.astype(np.float32), **_H5_KW)
        if label is not None:
            f.create_dataset('label', data=label.astype(np.uint8), **_H5_KW)
        f.attrs['spacing'] = np.asarray(case['spacing'], np.float64)
        f.attrs['nifti_axes'] = NIFTI_AXES
        for key in ('affine', 'intensity_range'):
            if case.get(key) is not None:
                f.attrs[key] = np.asarray(case[key], np.float64)
        for key in ('qform_code', 'sform_code', 'source_dtype',
                    'intensity_norm'):
            if case.get(key) is not None:
                f.attrs[key] = case[key]
        for key, value in (extra_attrs or {}).items():
            f.attrs[key] = value
    if slices:
        os.makedirs(osp.join(data_dir, 'slices'), exist_ok=True)
        for k in range(image.shape[0]):
            with h5py.File(
                    osp.join(data_dir, 'slices', f'{case_id}_slice_{k}.h5'),
                    'w') as f:
                f.create_dataset(
                    'image', data=image[k].astype(np.float32), **_H5_KW)
                if label is not None:
                    f.create_dataset(
                        'label', data=label[k].astype(np.uint8), **_H5_KW)
    return int(image.shape[0])


def read_h5_volume(path: str) -> dict:
    """Read a volume file of the layout.

    Args:
        path (str): ``ROOT/data/<case_id>.h5``.

    Returns:
        dict: ``image``, ``label`` (None if absent) and every attribute.
    """
    if not osp.isfile(path):
        raise ConversionError(f'{path}: file not found')
    with h5py.File(path, 'r') as f:
        if 'image' not in f:
            raise ConversionError(
                f"{path}: expected a dataset 'image', found {list(f.keys())}")
        out = dict(
            image=f['image'][()],
            label=f['label'][()] if 'label' in f else None)
        out.update({
            k: (v.decode() if isinstance(v, bytes) else v)
            for k, v in f.attrs.items()
        })
    return out


def h5_to_nifti(h5_path: str,
                label_path: Optional[str] = None,
                image_path: Optional[str] = None,
                denormalise: bool = True) -> None:
    """Write a volume file back as NIfTI (the inverse of :func:`load_case`).

    Args:
        h5_path (str): ``ROOT/data/<case_id>.h5``.
        label_path (str, optional): Where to write the label (uint8).
        image_path (str, optional): Where to write the image.
        denormalise (bool): Map the image back to its ``intensity_range`` (and
            to the integer ``source_dtype``, rounding) when those attributes
            exist.
    """
    vol = read_h5_volume(h5_path)
    if vol.get('nifti_axes', NIFTI_AXES) != NIFTI_AXES:
        raise ConversionError(
            f"{h5_path}: attribute nifti_axes={vol['nifti_axes']!r}, "
            f'expected {NIFTI_AXES!r}')
    kw = dict(
        affine=vol.get('affine'),
        spacing=vol.get('spacing'),
        qform_code=vol.get('qform_code', 1),
        sform_code=vol.get('sform_code', 1))
    if label_path is not None:
        if vol['label'] is None:
            raise ConversionError(
                f"{h5_path}: has no 'label' dataset to write to {label_path}")
        nib.save(dhw_to_nifti(vol['label'].astype(np.uint8), **kw), label_path)
    if image_path is not None:
        image = vol['image'].astype(np.float64)
        dtype = np.float32
        if denormalise and vol.get('intensity_range') is not None:
            lo, hi = (float(v) for v in vol['intensity_range'])
            image = image * (hi - lo) + lo
            source = np.dtype(vol.get('source_dtype', 'float32'))
            if np.issubdtype(source, np.integer):
                image, dtype = np.round(image), source
        nib.save(dhw_to_nifti(image.astype(dtype), **kw), image_path)
