"""Builders for the dict-form data samples the metric receives."""
from typing import List, Optional, Sequence

import numpy as np


def volume_samples(case_id: str,
                   pred: np.ndarray,
                   gt: np.ndarray,
                   spacing: Optional[Sequence[float]] = None) -> List[dict]:
    """One sample per slice of a (D, H, W) prediction/label pair, shaped like
    mmengine's ``SegDataSample.to_dict()`` output after ``predict``."""
    samples = []
    for z in range(len(gt)):
        sample = dict(
            case_id=case_id,
            slice_idx=z,
            num_slices=len(gt),
            pred_sem_seg=dict(data=np.asarray(pred[z])[None]),
            gt_sem_seg=dict(data=np.asarray(gt[z])[None]))
        if spacing is not None:
            sample['spacing'] = tuple(spacing)
        samples.append(sample)
    return samples


def cube(shape: Sequence[int], start: Sequence[int],
         size: Sequence[int]) -> np.ndarray:
    """A boolean array with one axis-aligned box set."""
    mask = np.zeros(shape, bool)
    mask[tuple(slice(s, s + n) for s, n in zip(start, size))] = True
    return mask
