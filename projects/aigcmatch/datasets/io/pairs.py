"""Finding the image/label NIfTI pairs of a dataset (a folder and naming
patterns, or a CSV), and checking case ids."""
from __future__ import annotations

import csv
import os
import os.path as osp
import re
from typing import Iterable, List, Optional, Tuple

from .errors import ConversionError
from .nifti import case_id_from_path

# (case_id, image path, label path or None for an unlabeled scan)
Pair = Tuple[str, str, Optional[str]]


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

