"""Synthetic ACDC-like short-axis cine-MRI in the SSL4MIS/UniMatch h5 layout.

The generator draws, per patient, a heart (LV blood pool, myocardium ring, RV
crescent) on 8-10 short-axis slices from base to apex in two cardiac phases
(ED, ES), inside a thorax with tissue that is *not* labelled (lungs, liver,
fat, descending aorta, fluid-filled blobs). The appearance (contrast, gamma,
bias field, noise, orientation, scale) varies between patients so that one to
three labelled patients do not cover the whole set: the point is a demo task
where semi-supervision has room to help, which trains on a CPU in minutes.

Everything for one patient comes from one generator seeded with
``[seed, patient_number]``, so a patient does not change when ``num_patients``
changes, and the set is reproducible.

The anatomy, its appearance and the drawing of a slice are in
``synthetic_anatomy.py``; this module makes volumes of the slices and writes
the h5 files.
"""
from __future__ import annotations

import os
import os.path as osp
from typing import Dict, Sequence, Tuple

import h5py
import numpy as np

from .io.intensity import normalise_intensity
from .synthetic_anatomy import _acquire, _render_slice, _sample_patient

#: ACDC label convention used by every file this module writes.
ACDC_CLASSES = ('background', 'RV', 'Myo', 'LV')

# The normalised image is stored on an 8-bit grid (exact in float32; UniMatch
# turns images into 8 bit for its strong augmentation anyway): shuffle+gzip
# then stores ~1 byte per pixel, not 4.
_QUANT_LEVELS = 256  # a power of two, so k / 256 is exact in float32


def _normalise(volume: np.ndarray) -> np.ndarray:
    """Per-volume normalisation to [0, 1] on an 8-bit grid.

    The converters' default (``'robust_minmax'``); the generator draws no
    extreme voxels, so this is min-max exactly, as the set always was.
    """
    vol, _ = normalise_intensity(volume, 'robust_minmax', warn=False)
    return (np.round(vol * _QUANT_LEVELS) / _QUANT_LEVELS).astype(np.float32)


def _check_args(num_patients: int, image_size: Sequence[int],
                slices: Sequence[int], frames: Sequence[str]) -> None:
    if (not isinstance(num_patients, (int, np.integer))
            or not 1 <= num_patients <= 999):
        raise ValueError(
            'make_synthetic_acdc: num_patients must be an int in 1..999 '
            '(patients are named patient001..patient999), '
            f'got {num_patients!r}')
    if len(image_size) != 2 or any(int(s) != s or s < 16 for s in image_size):
        raise ValueError(
            f'make_synthetic_acdc: image_size must be two ints >= 16 (H, W), '
            f'got {image_size!r}')
    if len(slices) != 2 or any(
            int(s) != s for s in slices) or not 1 <= slices[0] <= slices[1]:
        raise ValueError(
            f'make_synthetic_acdc: slices must be two ints (min, max) with '
            f'1 <= min <= max, got {slices!r}')
    if (isinstance(frames, str) or len(frames) == 0
            or len(set(frames)) != len(frames)
            or any(not isinstance(f, str) or not f or os.sep in f or '_' in f
                   for f in frames)):
        raise ValueError(
            'make_synthetic_acdc: frames must be a non-empty sequence of '
            "distinct names without '_' or '/', e.g. ('frame01', 'frame12'), "
            f'got {frames!r}')


def synthesize_patient(
    patient: int,
    image_size: Tuple[int, int] = (128, 128),
    slices: Tuple[int, int] = (8, 10),
    seed: int = 0,
    frames: Sequence[str] = ('frame01', 'frame12')
) -> Dict[str, dict]:
    """Generate one synthetic patient in memory.

    The first frame is end-diastole, the last end-systole; frames in between
    are interpolated phases. Both share the anatomy and scanner appearance,
    only the heart's contraction and the noise differ.

    Args:
        patient (int): Patient number (1-based, as in ``patient001``).
        image_size (tuple[int, int]): Nominal (H, W); each patient varies by up
            to 10%.
        slices (tuple[int, int]): Inclusive range of the number of short-axis
            slices.
        seed (int): Seed of the whole set; the patient's generator is
            seeded with ``[seed, patient]``.
        frames (Sequence[str]): Frame names, ED first.

    Returns:
        dict: ``{frame: dict(image, label, spacing, group)}`` with ``image``
        float32 (D, H, W) in [0, 1], ``label`` uint8 (D, H, W) in 0..3,
        ``spacing`` (sz, sy, sx) in mm and ``group`` the ACDC-like diagnosis.
    """
    _check_args(1, image_size, slices, frames)
    rng = np.random.default_rng([int(seed), int(patient)])
    p = _sample_patient(rng, (int(image_size[0]), int(image_size[1])),
                        (int(slices[0]), int(slices[1])))
    out = {}
    for f, frame in enumerate(frames):
        phase = f / (len(frames) - 1) if len(frames) > 1 else 0.0
        clean, labels = [], []
        for k in range(p.num_slices):
            z = k / (p.num_slices - 1) if p.num_slices > 1 else 0.0
            img, lab = _render_slice(p, rng, z, k, phase)
            clean.append(img)
            labels.append(lab)
        image = _normalise(_acquire(p, rng, np.stack(clean)))
        out[frame] = dict(
            image=image,
            label=np.stack(labels),
            spacing=p.spacing,
            group=p.group)
    return out


def _write_h5(path: str,
              image: np.ndarray,
              label: np.ndarray,
              spacing=None) -> None:
    # shuffle+gzip: images are on an 8-bit grid, labels are mostly zeros.
    kw = dict(compression='gzip', compression_opts=4, shuffle=True)
    with h5py.File(path, 'w') as f:
        f.create_dataset('image', data=image, **kw)
        f.create_dataset('label', data=label, **kw)
        if spacing is not None:
            f.attrs['spacing'] = np.asarray(spacing, dtype=np.float64)


def make_synthetic_acdc(root: str,
                        num_patients: int = 100,
                        image_size: tuple = (128, 128),
                        slices: tuple = (8, 10),
                        seed: int = 0,
                        frames: Sequence[str] = ('frame01', 'frame12'),
                        overwrite: bool = False) -> dict:
    """Write a synthetic ACDC-like set in the SSL4MIS/UniMatch h5 layout.

    Files: ``root/data/slices/patientXXX_frameYY_slice_Z.h5`` (keys ``image``
    float32 (H, W), ``label`` uint8 (H, W)) for every slice of every volume,
    and ``root/data/patientXXX_frameYY.h5`` (``image`` float32 (D, H, W),
    ``label`` uint8 (D, H, W), attribute ``spacing`` = (sz, sy, sx) mm). Images
    are min-max normalised per volume; labels follow ACDC: 0 bg, 1 RV, 2 Myo, 3
    LV. Patients are ``patient001``..``patientNNN``, so the shipped ACDC split
    files apply unchanged.

    Args:
        root (str): Output folder (created if missing).
        num_patients (int): Number of patients (1..999). Defaults to 100.
        image_size (tuple[int, int]): Nominal slice size (H, W); varies by up
            to 10% per patient.
        slices (tuple[int, int]): Inclusive range of slices per volume.
            Defaults to (8, 10).
        seed (int): Seed; the same seed gives byte-identical arrays. Defaults
            to 0.
        frames (Sequence[str]): Frame names, ED first, ES last. Defaults to
            ('frame01', 'frame12').
        overwrite (bool): If ``root/data`` already holds h5 files, delete those
            first instead of raising. Defaults to False.

    Returns:
        dict: ``root``, ``num_patients``, ``num_volumes``, ``num_slices`` and
        ``class_fraction`` (fraction of all pixels per class, background
        first).
    """
    _check_args(num_patients, image_size, slices, frames)
    data_dir = osp.join(root, 'data')
    slice_dir = osp.join(data_dir, 'slices')
    existing = [
        osp.join(d, n) for d in (data_dir, slice_dir) if osp.isdir(d)
        for n in os.listdir(d) if n.endswith('.h5')
    ]
    if existing and not overwrite:
        raise FileExistsError(
            f'make_synthetic_acdc: {data_dir} already holds {len(existing)} '
            'h5 files; pass overwrite=True (CLI: --overwrite) to replace them')
    for path in existing:
        os.remove(path)
    os.makedirs(slice_dir, exist_ok=True)

    num_slices = 0
    counts = np.zeros(len(ACDC_CLASSES), np.int64)
    for n in range(1, num_patients + 1):
        case = synthesize_patient(n, image_size, slices, seed, frames)
        for frame, vol in case.items():
            case_id = f'patient{n:03d}_{frame}'
            _write_h5(
                osp.join(data_dir, f'{case_id}.h5'), vol['image'],
                vol['label'], vol['spacing'])
            for k in range(vol['image'].shape[0]):
                _write_h5(
                    osp.join(slice_dir, f'{case_id}_slice_{k}.h5'),
                    vol['image'][k], vol['label'][k])
            num_slices += vol['image'].shape[0]
            counts += np.bincount(
                vol['label'].ravel(), minlength=len(ACDC_CLASSES))
    return dict(
        root=str(root),
        num_patients=int(num_patients),
        num_volumes=int(num_patients * len(frames)),
        num_slices=int(num_slices),
        class_fraction=[
            round(float(c) / float(counts.sum()), 4) for c in counts
        ])
