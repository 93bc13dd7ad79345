"""Regroup per-slice evaluation records into whole volumes.

Validation and test datasets yield one sample per slice so that the standard
mmengine loops and distributed samplers work; 3D metrics need the volumes back.
Distributed samplers pad the last batch by repeating samples, so the same
(case_id, slice_idx) may arrive twice: it is kept once.
"""
from collections import defaultdict
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np


class CaseVolume(NamedTuple):
    """One volume rebuilt from its slices.

    Attributes:
        case_id (str): The volume's id, e.g. ``'patient001_frame01'``.
        pred (np.ndarray): Predicted class indices, (D, H, W).
        gt (np.ndarray): Label class indices, (D, H, W).
        spacing (tuple[float, float, float] | None): Voxel size (sz, sy, sx)
            in mm, or None when the data does not carry it.
    """
    case_id: str
    pred: np.ndarray
    gt: np.ndarray
    spacing: Optional[Tuple[float, float, float]]


def assemble_volumes(records: Sequence[dict]) -> List[CaseVolume]:
    """Stack slice records into volumes, one per ``case_id``.

    Args:
        records (Sequence[dict]): Slice records with keys ``case_id`` (str),
            ``slice_idx`` (int), ``num_slices`` (int), ``spacing`` (tuple or
            None), ``pred`` and ``gt`` (2D arrays of the same shape).

    Returns:
        list[CaseVolume]: The volumes, sorted by ``case_id`` so the order does
        not depend on how the slices were sharded across processes.

    Raises:
        ValueError: Naming the case, if its slices disagree on
            ``num_slices``, ``spacing`` or size, if a ``slice_idx`` is out of
            range, if a slice arrives twice with different labels, if a
            slice's prediction and label differ in shape, or if slices are
            missing.
    """
    by_case: Dict[str, Dict[int, dict]] = defaultdict(dict)
    num_slices: Dict[str, int] = {}
    for record in records:
        case_id, idx = record['case_id'], int(record['slice_idx'])
        n = int(record['num_slices'])
        if num_slices.setdefault(case_id, n) != n:
            raise ValueError(
                f'case {case_id!r}: its slices disagree on num_slices '
                f'({num_slices[case_id]} and {n}); every slice of a volume '
                'must carry the same num_slices')
        if not 0 <= idx < n:
            raise ValueError(f'case {case_id!r}: slice_idx {idx} is outside '
                             f'[0, num_slices={n})')
        if record['pred'].shape != record['gt'].shape:
            raise ValueError(
                f'case {case_id!r} slice {idx}: prediction shape '
                f'{record["pred"].shape} differs from label shape '
                f'{record["gt"].shape}; predictions must be at the slice\'s '
                'original size (ori_shape)')
        seen = by_case[case_id].get(idx)
        if seen is None:
            by_case[case_id][idx] = record
        elif not np.array_equal(seen['gt'], record['gt']):
            # Sampler padding repeats a sample exactly; different labels mean
            # two different slices claim the same identity.
            raise ValueError(
                f'case {case_id!r}: slice {idx} appears twice with different '
                'labels; case_id must identify one volume')

    volumes = []
    for case_id in sorted(by_case):
        slices = by_case[case_id]
        n = num_slices[case_id]
        missing = sorted(set(range(n)) - set(slices))
        if missing:
            shown = missing if len(missing) <= 10 else missing[:10] + ['...']
            raise ValueError(
                f'case {case_id!r}: slices {shown} of num_slices={n} are '
                f'missing ({len(slices)} received); every slice of a volume '
                'must be evaluated')
        ordered = [slices[i] for i in range(n)]
        shapes = {r['gt'].shape for r in ordered}
        if len(shapes) > 1:
            raise ValueError(f'case {case_id!r}: slices have different sizes '
                             f'{sorted(shapes)}; a volume needs one size')
        spacings = {_spacing_key(r.get('spacing')) for r in ordered}
        if len(spacings) > 1:
            raise ValueError(f'case {case_id!r}: slices disagree on spacing '
                             f'{sorted(spacings, key=str)}')
        volumes.append(
            CaseVolume(
                case_id=case_id,
                pred=np.stack([r['pred'] for r in ordered]),
                gt=np.stack([r['gt'] for r in ordered]),
                spacing=spacings.pop()))
    return volumes


def _spacing_key(spacing) -> Optional[Tuple[float, ...]]:
    if spacing is None:
        return None
    return tuple(float(s) for s in np.asarray(spacing).reshape(-1))
