"""NIfTI <-> the SSL4MIS/UniMatch h5 layout (used by tools/dataset_converters).

Layout written under ``ROOT``::

    ROOT/data/<case_id>.h5                   image float32 (D, H, W) in [0, 1],
                                             label uint8 (D, H, W)
    ROOT/data/slices/<case_id>_slice_<k>.h5  image float32 (H, W),
                                             label uint8 (H, W)

Axis convention. nibabel returns NIfTI arrays indexed (i, j, k) = (X, Y, Z).
The h5 arrays are that array transposed by ``(2, 1, 0)``:
(D, H, W) = (Z, Y, X), the order SimpleITK's ``GetArrayFromImage`` gives and
hence the order of the public SSL4MIS ACDC files. The volume's attributes
record how to go back:

* ``spacing``: (sz, sy, sx) in mm, in the h5 axis order (NIfTI zooms reversed);
* ``affine``, ``qform_code``, ``sform_code``: the source NIfTI's geometry;
* ``nifti_axes``: ``'zyx'`` (h5 axes d, h, w are NIfTI axes k, j, i);
* ``intensity_range``, ``source_dtype``: what the image was normalised from;
* ``intensity_norm``: how (see :mod:`.intensity`; default ``'robust_minmax'``,
  which is min-max unless the scan holds extreme voxels, which it replaces);

so :func:`h5_to_nifti` restores labels, orientation, affine and spacing
exactly, and the image up to float rounding (exactly for integer-typed sources
without clipping; clipped or replaced voxels come back as they were stored).
"""
from __future__ import annotations

import csv
import os
import os.path as osp
import re
import shutil
import tempfile
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import h5py
import nibabel as nib
import numpy as np

from .intensity import IntensityNorm, normalise_intensity
from .split_files import draw_labeled, draw_splits

#: Transpose from NIfTI (X, Y, Z) to h5 (D, H, W) order; it is its own inverse.
NIFTI_TO_DHW = (2, 1, 0)
NIFTI_AXES = 'zyx'

_H5_KW = dict(compression='gzip', compression_opts=4, shuffle=True)
_NIFTI_EXTS = ('.nii.gz', '.nii')

# (case_id, image path, label path or None for an unlabeled scan)
Pair = Tuple[str, str, Optional[str]]


class ConversionError(ValueError):
    """A bad input file; the message names the file and what was expected."""


# reading NIfTI ---------------------------------------------------------------


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


def minmax_normalise(
    image: np.ndarray,
    clip: Optional[Tuple[float, float]] = None
) -> Tuple[np.ndarray, Tuple[float, float]]:
    """Per-volume min-max normalisation to [0, 1] (SSL4MIS ACDC convention).

    Plain min-max: one extreme voxel squashes the image. The converters use
    :func:`~.intensity.normalise_intensity` (``'robust_minmax'``), which is
    this on scans without extreme voxels.

    Args:
        image (np.ndarray): Any-shaped array.
        clip (tuple[float, float], optional): Clip to (low, high) first, e.g. a
            CT window.

    Returns:
        tuple: float32 normalised array, and the (min, max) it was normalised
            from.
    """
    image = image.astype(np.float32)
    if clip is not None:
        image = np.clip(image, clip[0], clip[1])
    lo, hi = float(image.min()), float(image.max())
    # a constant volume carries no contrast: zeros, not a division by zero
    scale = hi - lo if hi > lo else 1.0
    return ((image - lo) / scale).astype(np.float32), (lo, hi)


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


# writing h5 ------------------------------------------------------------------


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


# finding cases ---------------------------------------------------------------


def _pattern_regex(pattern: str, what: str) -> re.Pattern:
    if pattern.count('{case}') != 1 or os.sep in pattern:
        raise ConversionError(
            f"{what} {pattern!r} must be a file name containing '{{case}}' "
            f"exactly once, e.g. '{{case}}_0000.nii.gz'")
    head, tail = pattern.split('{case}')
    return re.compile(
        re.escape(head) + '(?P<case>.+)' + re.escape(tail) + r'\Z')


def find_nifti_pairs(images_dir: str,
                     labels_dir: Optional[str] = None,
                     image_pattern: str = '{case}.nii.gz',
                     label_pattern: str = '{case}_gt.nii.gz',
                     allow_unlabeled: bool = False) -> List[Pair]:
    """Pair image and label files by a naming pattern.

    ``{case}`` in a pattern stands for the case id, e.g. nnU-Net's
    ``imagesTr/{case}_0000.nii.gz`` + ``labelsTr/{case}.nii.gz``, or one folder
    with ``{case}.nii.gz`` + ``{case}_gt.nii.gz`` (then label files are not
    taken for images).

    Args:
        images_dir (str): Folder of the images.
        labels_dir (str, optional): Folder of the labels; defaults to
            ``images_dir``.
        image_pattern (str): Image file name pattern.
        label_pattern (str): Label file name pattern.
        allow_unlabeled (bool): Keep images without a label file (label None)
            instead of raising: unlabeled scans for semi-supervised training.

    Returns:
        list[tuple]: ``(case_id, image_path, label_path)`` sorted by case
        id; ``label_path`` is None for an unlabeled image.

    Raises:
        ConversionError: A folder is missing, no image matches, or an image has
            no label.
    """
    labels_dir = labels_dir or images_dir
    for d in (images_dir, labels_dir):
        if not osp.isdir(d):
            raise ConversionError(f'{d}: folder not found')
    img_re = _pattern_regex(image_pattern, 'image pattern')
    lab_re = _pattern_regex(label_pattern, 'label pattern')
    same_dir = osp.abspath(images_dir) == osp.abspath(labels_dir)
    if same_dir and image_pattern == label_pattern:
        raise ConversionError(
            f'{images_dir}: image and label patterns are identical '
            f'({image_pattern!r}) in one folder; give --labels or another '
            f"--label-pattern, e.g. '{{case}}_gt.nii.gz'")
    pairs = []
    for name in sorted(os.listdir(images_dir)):
        m = img_re.match(name)
        if not m or (same_dir and lab_re.match(name)):
            continue
        case = m.group('case')
        label = osp.join(labels_dir, label_pattern.format(case=case))
        if not osp.isfile(label):
            if not allow_unlabeled:
                raise ConversionError(
                    f'{label}: label file not found for image '
                    f'{osp.join(images_dir, name)} (label pattern '
                    f'{label_pattern!r}; allow_unlabeled / --allow-unlabeled '
                    f'keeps such images as unlabeled data)')
            label = None
        pairs.append((case, osp.join(images_dir, name), label))
    if not pairs:
        raise ConversionError(
            f'{images_dir}: no file matches the image pattern '
            f'{image_pattern!r}')
    return pairs


def read_pairs_csv(csv_path: str, allow_unlabeled: bool = False) -> List[Pair]:
    """Read ``image,label[,case]`` rows of a CSV with a header line.

    Relative paths are taken from the CSV's folder.

    Args:
        csv_path (str): The CSV file.
        allow_unlabeled (bool): Accept an empty ``label`` cell (an unlabeled
            scan).

    Returns:
        list[tuple]: ``(case_id, image_path, label_path)`` in file order;
        the case id is the ``case`` column or the image file name without
        ``.nii[.gz]``.
    """
    if not osp.isfile(csv_path):
        raise ConversionError(f'{csv_path}: file not found')
    base = osp.dirname(osp.abspath(csv_path))
    with open(csv_path, newline='') as f:
        reader = csv.DictReader(f)
        fields = [c.strip() for c in (reader.fieldnames or [])]
        if 'image' not in fields or 'label' not in fields:
            raise ConversionError(
                f'{csv_path}: expected a header line with columns '
                f"'image,label' (and optionally 'case'), got {fields}")
        pairs = []
        for line, row in enumerate(reader, start=2):
            row = {
                (k or '').strip(): (v or '').strip()
                for k, v in row.items()
            }
            if not row['image'] or not (row['label'] or allow_unlabeled):
                raise ConversionError(
                    f'{csv_path}, line {line}: empty image or label path')
            image, label = (None if not p else
                            p if osp.isabs(p) else osp.join(base, p)
                            for p in (row['image'], row['label']))
            pairs.append((row.get('case')
                          or case_id_from_path(image), image, label))
    if not pairs:
        raise ConversionError(f'{csv_path}: no rows below the header')
    return pairs


def check_case_ids(case_ids: Iterable[str], source: str) -> None:
    """Check case ids can be file stems and split entries.

    Args:
        case_ids (Iterable[str]): The ids.
        source (str): Where they come from, for the error message.

    Raises:
        ConversionError: An id is empty, repeated, has a path separator,
            ``_slice_`` or surrounding spaces.
    """
    seen = set()
    for cid in case_ids:
        if not cid or os.sep in cid or '_slice_' in cid or cid != cid.strip():
            raise ConversionError(
                f"{source}: case id {cid!r} cannot be a file stem (empty, has "
                f"'{os.sep}', '_slice_' or surrounding spaces)")
        if cid in seen:
            raise ConversionError(f'{source}: case id {cid!r} appears twice')
        seen.add(cid)


# splits ----------------------------------------------------------------------


def make_splits(case_ids: Sequence[str],
                ratios: Sequence[float] = (0.7, 0.1, 0.2),
                seed: int = 0,
                group_pattern: Optional[str] = None,
                num_labeled: Optional[int] = None) -> Dict[str, List[str]]:
    """Seeded train/val/test split by case (or by group, e.g. patient).

    Args:
        case_ids (Sequence[str]): Volume ids.
        ratios (Sequence[float]): Train, val, test proportions (normalised to
            sum 1).
        seed (int): Shuffle seed.
        group_pattern (str, optional): Regex; cases whose first match is equal
            stay in one split (e.g. ``'^patient\\d+'`` keeps a patient's frames
            together).
        num_labeled (int, optional): Also return ``labeled`` (a seeded draw
            of ``num_labeled`` training groups) and ``unlabeled`` (the other
            training cases).

    The groups are drawn by :func:`split_files.draw_splits` and
    :func:`split_files.draw_labeled`, as ``tools/make_splits.py`` draws
    them.

    Returns:
        dict[str, list[str]]: ``train``, ``val``, ``test`` (and ``labeled``,
        ``unlabeled``), each sorted.
    """
    if len(ratios) != 3 or any(r < 0 for r in ratios) or sum(ratios) <= 0:
        raise ConversionError(
            f'split ratios must be three non-negative numbers (train, val, '
            f'test) with a positive sum, got {list(ratios)}')
    groups: Dict[str, List[str]] = {}
    for cid in sorted(case_ids):
        key = cid
        if group_pattern:
            m = re.search(group_pattern, cid)
            key = m.group(0) if m else cid
        groups.setdefault(key, []).append(cid)
    keys = sorted(groups)
    total = float(sum(ratios))
    n_val = int(round(len(keys) * ratios[1] / total))
    n_test = int(round(len(keys) * ratios[2] / total))
    if ratios[0] > 0:  # never leave train empty when it was asked for
        while n_val + n_test >= len(keys) and n_val + n_test > 0:
            if n_val >= n_test:
                n_val -= 1
            else:
                n_test -= 1
    # the same seeded draw as tools/make_splits.py (split_files.draw_splits)
    drawn = draw_splits(keys, n_val, n_test, seed)
    parts = {name: drawn[name] for name in ('train', 'val', 'test')}
    if num_labeled is not None:
        n_train = len(parts['train'])
        if not 0 < num_labeled <= n_train:
            raise ConversionError(
                f'num_labeled must be in 1..{n_train} (the number of training '
                f'cases/groups), got {num_labeled}')
        sets = draw_labeled(parts['train'], [num_labeled], seed)
        parts['labeled'] = sets[f'labeled_{num_labeled}case']
        parts['unlabeled'] = sets[f'unlabeled_{num_labeled}case']
    return {
        name: sorted(c for k in ks for c in groups[k])
        for name, ks in parts.items()
    }


def write_split_files(splits: Dict[str, List[str]],
                      out_dir: str) -> Dict[str, str]:
    """Write ``out_dir/<name>.txt``, one id a line.

    Args:
        splits (dict[str, list[str]]): Split name -> ids.
        out_dir (str): Folder to write into (created if missing).

    Returns:
        dict[str, str]: split name -> path.
    """
    os.makedirs(out_dir, exist_ok=True)
    paths = {}
    for name, ids in splits.items():
        paths[name] = osp.join(out_dir, f'{name}.txt')
        with open(paths[name], 'w') as f:
            f.writelines(f'{cid}\n' for cid in ids)
    return paths


# whole datasets --------------------------------------------------------------


def prepare_output(
    out_root: str, overwrite: bool,
    managed: Sequence[str] = ('data', )) -> str:
    """Refuse to replace output unless asked; make a scratch folder for it.

    Conversion writes into the scratch folder and :func:`commit_output` moves
    it into place, so a bad input file met half-way leaves the old output (or
    nothing) rather than a mix.

    Args:
        out_root (str): ROOT of the layout.
        overwrite (bool): Allow replacing non-empty managed sub-folders.
        managed (Sequence[str]): Sub-folders of ``out_root`` written.

    Returns:
        str: The scratch folder (inside ``out_root``, so the move is a rename).
    """
    for sub in managed:
        path = osp.join(out_root, sub)
        if osp.exists(path) and (not osp.isdir(path)
                                 or os.listdir(path)) and not overwrite:
            raise FileExistsError(
                f'{path} already exists and is not empty; pass --overwrite '
                f'(overwrite=True) to replace it')
    os.makedirs(out_root, exist_ok=True)
    return tempfile.mkdtemp(prefix='.converting-', dir=out_root)


def commit_output(scratch: str,
                  out_root: str,
                  managed: Sequence[str] = ('data', )) -> None:
    """Move every ``scratch/<sub>`` to ``out_root/<sub>``; drop scratch.

    Args:
        scratch (str): Folder from :func:`prepare_output`.
        out_root (str): ROOT of the layout.
        managed (Sequence[str]): Sub-folders to move (replacing old ones).
    """
    for sub in managed:
        src, dst = osp.join(scratch, sub), osp.join(out_root, sub)
        if not osp.exists(src):
            continue
        if osp.isdir(dst):
            shutil.rmtree(dst)
        elif osp.exists(dst):
            os.remove(dst)
        os.replace(src, dst)
    shutil.rmtree(scratch, ignore_errors=True)


def convert_pairs(pairs: Sequence[Pair],
                  out_root: str,
                  num_classes: Optional[int] = None,
                  clip: Optional[Tuple[float, float]] = None,
                  overwrite: bool = False,
                  ratios: Optional[Sequence[float]] = (0.7, 0.1, 0.2),
                  seed: int = 0,
                  group_pattern: Optional[str] = None,
                  num_labeled: Optional[int] = None,
                  slices: bool = True,
                  norm=None) -> dict:
    """Convert NIfTI pairs to the layout, plus split files in ``splits/``.

    Cases without a label (label None) never enter train/val/test: they are
    listed in ``unlabeled.txt`` (with the unlabeled part of train when
    ``num_labeled`` is given), and ``labeled.txt`` then defaults to the whole
    of train.

    Args:
        pairs (Sequence[tuple]): ``(case_id, image, label)``; label None for
            an unlabeled scan.
        out_root (str): ROOT of the layout.
        num_classes (int, optional): Check every label is in
            ``0..num_classes-1``.
        clip (tuple[float, float], optional): Intensity clip before
            normalisation (CT window).
        overwrite (bool): Replace an existing ``out_root/data`` and
            ``out_root/splits``.
        ratios (Sequence[float], optional): train/val/test proportions; None
            writes no splits.
        seed (int): Split seed.
        group_pattern (str, optional): See :func:`make_splits`.
        num_labeled (int, optional): Also write ``labeled.txt`` /
            ``unlabeled.txt``.
        slices (bool): Write per-slice files too.
        norm (IntensityNorm | dict | str, optional): Normalisation scheme
            (:mod:`.intensity`); None: ``'robust_minmax'``.

    Returns:
        dict: ``num_cases``, ``num_unlabeled``, ``num_slices``,
        ``labels_found`` (sorted values), ``splits`` (name -> number of
        cases), ``split_files`` (name -> path).
    """
    if not pairs:
        raise ConversionError('no image/label pairs to convert')
    check_case_ids([p[0] for p in pairs], 'input pairs')
    splits = None
    if ratios is not None:
        labeled = [p[0] for p in pairs if p[2] is not None]
        unlabeled = sorted(p[0] for p in pairs if p[2] is None)
        if not labeled:
            raise ConversionError(
                'no case has a label: nothing to split into train/val/test '
                '(pass ratios=None / convert without splits)')
        splits = make_splits(labeled, ratios, seed, group_pattern, num_labeled)
        if unlabeled:
            splits.setdefault('labeled', splits['train'])
            splits['unlabeled'] = sorted(
                splits.get('unlabeled', []) + unlabeled)
    managed = ('data', 'splits') if splits else ('data', )
    scratch = prepare_output(out_root, overwrite, managed)
    try:
        data_dir = osp.join(scratch, 'data')
        os.makedirs(data_dir)
        num_slices, found = 0, set()
        for case_id, image, label in pairs:
            case = load_case(image, label, num_classes, clip, norm)
            if case['label'] is not None:
                found.update(np.unique(case['label']).tolist())
            num_slices += write_case(
                data_dir,
                case_id,
                case,
                slices,
                extra_attrs=dict(source_image=osp.basename(image)))
        files = {}
        if splits:
            files = write_split_files(splits, osp.join(scratch, 'splits'))
        commit_output(scratch, out_root, managed)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return dict(
        num_cases=len(pairs),
        num_unlabeled=sum(p[2] is None for p in pairs),
        num_slices=num_slices,
        labels_found=sorted(int(v) for v in found),
        splits={
            k: len(v)
            for k, v in (splits or {}).items()
        },
        split_files={
            k: osp.join(out_root, 'splits', osp.basename(v))
            for k, v in files.items()
        })


# ACDC ------------------------------------------------------------------------

_ACDC_PATIENT = re.compile(r'patient\d{3}\Z')
_ACDC_FRAME = re.compile(
    r'(?P<case>patient\d{3}_frame(?P<frame>\d+))\.nii(\.gz)?\Z')


def parse_acdc_info(path: str) -> dict:
    """Parse an ACDC ``Info.cfg`` (``key: value`` lines).

    Args:
        path (str): The ``Info.cfg`` file (ED, ES, Group, Height, NbFrame,
            Weight).

    Returns:
        dict: Keys as in the file; ED, ES, NbFrame as int, Height and Weight as
            float.
    """
    info = {}
    with open(path) as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            if ':' not in line:
                raise ConversionError(
                    f"{path}, line {n}: expected 'key: value', "
                    f'got {line.strip()!r}')
            key, value = (s.strip() for s in line.split(':', 1))
            try:
                info[key] = (
                    int(float(value)) if key in ('ED', 'ES', 'NbFrame') else
                    float(value) if key in ('Height', 'Weight') else value)
            except ValueError as e:
                raise ConversionError(
                    f'{path}, line {n}: {key} must be a number, got {value!r}'
                ) from e
    return info


def find_acdc_cases(
    raw_root: str, subsets: Sequence[str] = ('training', 'testing')
) -> List[Tuple[str, str, str, dict]]:
    """List the ED/ES frames of a raw ACDC challenge tree.

    Accepts ``raw_root/{training,testing}/patientXXX/``,
    ``raw_root/database/...`` or ``raw_root/patientXXX/``. Each patient folder
    holds ``patientXXX_frameYY.nii.gz`` with ``patientXXX_frameYY_gt.nii.gz``
    and ``Info.cfg``; the 4D cine ``patientXXX_4d.nii.gz`` is skipped. Frames
    named by ``Info.cfg`` (ED, ES) must exist.

    Args:
        raw_root (str): Root of the extracted challenge data.
        subsets (Sequence[str]): Sub-folders to take when they exist.

    Returns:
        list: ``(case_id, image, label, attrs)`` sorted by case id;
        ``attrs`` holds ``phase`` ('ED', 'ES' or '') and ``group`` from
        ``Info.cfg`` when known.
    """
    if not osp.isdir(raw_root):
        raise ConversionError(f'{raw_root}: folder not found')
    roots = [
        osp.join(base, s)
        for base in (raw_root, osp.join(raw_root, 'database'))
        for s in subsets if osp.isdir(osp.join(base, s))
    ] or [raw_root]
    patient_dirs = sorted(
        osp.join(r, d) for r in roots for d in os.listdir(r)
        if _ACDC_PATIENT.match(d) and osp.isdir(osp.join(r, d)))
    if not patient_dirs:
        raise ConversionError(
            f'{raw_root}: found no patientXXX folders (expected '
            f'{raw_root}/training/patient001/... or {raw_root}/patient001/...)'
        )
    cases = []
    for pdir in patient_dirs:
        info_path = osp.join(pdir, 'Info.cfg')
        info = parse_acdc_info(info_path) if osp.isfile(info_path) else {}
        frames = {}
        for name in sorted(os.listdir(pdir)):
            # '_gt' and '_4d' names do not match: labels are paired below,
            # the 4D cine is skipped
            m = _ACDC_FRAME.match(name)
            if m:
                frames[int(m.group('frame'))] = (m.group('case'), name)
        if not frames:
            raise ConversionError(
                f'{pdir}: no patientXXX_frameYY.nii.gz frame found')
        for phase in ('ED', 'ES'):
            if phase in info and info[phase] not in frames:
                raise ConversionError(
                    f'{info_path}: {phase} is frame {info[phase]}, but '
                    f'{osp.basename(pdir)}_frame{info[phase]:02d}.nii.gz '
                    'is missing')
        for frame, (case_id, name) in sorted(frames.items()):
            image = osp.join(pdir, name)
            label = osp.join(pdir, case_id + '_gt' + name[len(case_id):])
            if not osp.isfile(label):
                raise ConversionError(
                    f'{label}: missing _gt label file for frame {image} '
                    '(to skip a folder without labels, convert only '
                    "subsets=('training',), CLI --subsets training)")
            phase = {info.get('ED'): 'ED', info.get('ES'): 'ES'}.get(frame, '')
            cases.append((case_id, image, label,
                          dict(phase=phase, group=str(info.get('Group', '')))))
    check_case_ids([c[0] for c in cases], raw_root)
    return cases


def convert_acdc(raw_root: str,
                 out_root: str,
                 overwrite: bool = False,
                 subsets: Sequence[str] = ('training', 'testing'),
                 slices: bool = True,
                 norm=None) -> dict:
    """Convert the raw ACDC challenge NIfTI release to the h5 layout.

    Every ED/ES frame becomes ``out_root/data/patientXXX_frameYY.h5`` (+
    slices), normalised per volume (``'robust_minmax'``: min-max, as SSL4MIS
    and UniMatch do, unless a frame holds extreme voxels), with spacing,
    affine, phase and group attributes. The shipped split files
    (``projects/aigcmatch/datasets/splits/acdc``) apply to the result.

    Args:
        raw_root (str): Extracted challenge data (see :func:`find_acdc_cases`).
        out_root (str): ROOT of the layout.
        overwrite (bool): Replace an existing ``out_root/data``.
        subsets (Sequence[str]): Which of ``training`` / ``testing`` to
            convert.
        slices (bool): Write per-slice files too.
        norm (IntensityNorm | dict | str, optional): Normalisation scheme;
            None: ``'robust_minmax'``.

    Returns:
        dict: ``num_cases``, ``num_patients``, ``num_slices``,
            ``labels_found``.
    """
    cases = find_acdc_cases(raw_root, subsets)
    scratch = prepare_output(out_root, overwrite)
    try:
        data_dir = osp.join(scratch, 'data')
        os.makedirs(data_dir)
        num_slices, found = 0, set()
        for case_id, image, label, attrs in cases:
            case = load_case(image, label, num_classes=4, norm=norm)
            found.update(np.unique(case['label']).tolist())
            num_slices += write_case(
                data_dir, case_id, case, slices, extra_attrs=attrs)
        commit_output(scratch, out_root)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return dict(
        num_cases=len(cases),
        num_patients=len({c[0].split('_')[0]
                          for c in cases}),
        num_slices=num_slices,
        labels_found=sorted(int(v) for v in found))
