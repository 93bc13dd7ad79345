"""Writing a prediction back in the format of the scan it was made from.

What is written for each input format (``<case>`` is the file stem):

* NIfTI: ``<case>_seg.nii[.gz]``, uint8, with the input's shape, affine,
  header and qform/sform codes; probabilities in ``<case>_probs.nii[.gz]``
  (4D: X, Y, Z, C).
* h5: ``<case>_seg.h5`` with ``label`` (the prediction), ``image``, the
  input's attributes and, with probabilities, ``probs`` (C, D, H, W).
* PNG: ``<case>_seg.png``, uint8 labels; probabilities in
  ``<case>_probs.npy`` (C, ...).
* NPY and in-memory arrays: ``<case>_seg.npy``, uint8 labels;
  probabilities in ``<case>_probs.npy`` (C, ...).

The scans come from :mod:`.scan_io`, which reads them.
"""
from __future__ import annotations

import os
import os.path as osp
from typing import Dict, Optional

import cv2
import h5py
import nibabel as nib
import numpy as np

from ..datasets.io.nifti import NIFTI_TO_DHW
from .scan_io import Scan


def _nifti_suffix(scan: Scan) -> str:
    return '.nii' if scan.path and scan.path.lower().endswith(
        '.nii') else '.nii.gz'


def _nifti_like(scan: Scan, data_xyz: np.ndarray, dtype) -> nib.Nifti1Image:
    """``data_xyz`` with the source's affine and header (codes, units)."""
    src = scan.nifti
    header = src.header.copy()
    header.set_data_dtype(dtype)
    out = nib.Nifti1Image(data_xyz.astype(dtype), src.affine, header=header)
    # labels and probabilities are stored as they are: the source's
    # intensity scaling must not apply to them
    out.header.set_slope_inter(1.0, 0.0)
    out.set_qform(src.get_qform(), code=int(src.header['qform_code']))
    out.set_sform(src.get_sform(), code=int(src.header['sform_code']))
    return out


def output_paths(scan: Scan,
                 out_dir: str,
                 probs: bool = False) -> Dict[str, str]:
    """Where :func:`write_prediction` puts the files of ``scan``.

    Args:
        scan (Scan): The source scan.
        out_dir (str): Output folder.
        probs (bool): Also name the probability file.

    Returns:
        dict: ``labels`` and, if ``probs``, ``probs`` (the same file for h5
        inputs).
    """
    base = osp.join(out_dir, scan.case_id)
    fmt = scan.fmt
    if fmt == 'nifti':
        suffix = _nifti_suffix(scan)
        paths = dict(
            labels=f'{base}_seg{suffix}', probs=f'{base}_probs{suffix}')
    elif fmt == 'h5':
        paths = dict(labels=f'{base}_seg.h5', probs=f'{base}_seg.h5')
    elif fmt == 'png':
        paths = dict(labels=f'{base}_seg.png', probs=f'{base}_probs.npy')
    else:
        paths = dict(labels=f'{base}_seg.npy', probs=f'{base}_probs.npy')
    if not probs:
        paths.pop('probs')
    return paths


def write_prediction(scan: Scan,
                     labels: np.ndarray,
                     out_dir: str,
                     probs: Optional[np.ndarray] = None) -> Dict[str, str]:
    """Write a label map (and probabilities) in the format of the input.

    Args:
        scan (Scan): The source scan.
        labels (np.ndarray): Class indices with the shape of ``scan.image``.
        out_dir (str): Output folder (created if missing).
        probs (np.ndarray, optional): (C, *labels.shape) class probabilities.

    Returns:
        dict: ``labels`` (and ``probs``) file paths.
    """
    if labels.shape != scan.image.shape:
        raise ValueError(
            f'{scan.case_id}: labels of shape {labels.shape} do not match the '
            f'image shape {scan.image.shape}')
    if labels.size and int(labels.max()) > 255:
        raise ValueError(f'{scan.case_id}: class indices above 255 do not '
                         'fit a uint8 label map')
    os.makedirs(out_dir, exist_ok=True)
    paths = output_paths(scan, out_dir, probs is not None)
    labels = labels.astype(np.uint8)
    if scan.fmt == 'nifti':
        xyz = labels.transpose(NIFTI_TO_DHW).reshape(scan.nifti_shape)
        nib.save(_nifti_like(scan, xyz, np.uint8), paths['labels'])
        if probs is not None:
            # (C, D, H, W) -> (X, Y, Z, C): classes on NIfTI's 4th axis
            p = probs.transpose(3, 2, 1, 0)
            nib.save(_nifti_like(scan, p, np.float32), paths['probs'])
    elif scan.fmt == 'h5':
        kw = dict(compression='gzip', compression_opts=4, shuffle=True)
        with h5py.File(paths['labels'], 'w') as f:
            f.create_dataset('label', data=labels, **kw)
            f.create_dataset('image', data=scan.image, **kw)
            if probs is not None:
                f.create_dataset('probs', data=probs.astype(np.float32), **kw)
            for key, value in scan.h5_attrs.items():
                f.attrs[key] = value
            f.attrs['source_file'] = osp.basename(scan.path or '')
            f.attrs['label_is_prediction'] = True
    elif scan.fmt == 'png':
        if not cv2.imwrite(paths['labels'], labels):
            raise ValueError(f"{paths['labels']}: could not write the PNG")
        if probs is not None:
            np.save(paths['probs'], probs.astype(np.float32))
    else:
        np.save(paths['labels'], labels)
        if probs is not None:
            np.save(paths['probs'], probs.astype(np.float32))
    return paths
