"""Whole-dataset conversion to the SSL4MIS/UniMatch h5 layout, as the tools in
``tools/dataset_converters`` run it: NIfTI pairs (:func:`convert_pairs`, with
split files) and the raw ACDC challenge release (:func:`convert_acdc`).

The pieces live in :mod:`.io` (reading NIfTI, writing h5, normalisation,
finding pairs, staging the output; the layout and its axis order are described
there) and :mod:`.split_files` (drawing splits).
"""
from __future__ import annotations

import os
import os.path as osp
import shutil
from typing import Optional, Sequence, Tuple

import numpy as np

from .io.acdc_layout import find_acdc_cases
from .io.errors import ConversionError
from .io.h5 import write_case
from .io.nifti import load_case
from .io.pairs import Pair, check_case_ids
from .io.staging import commit_output, prepare_output
from .split_files import make_splits, write_split_files


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
