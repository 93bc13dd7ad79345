"""Per-class voxel counts and volumes in millilitres."""
from typing import Dict, Optional, Sequence, Tuple

import numpy as np


def voxel_volume_ml(shape: Tuple[int, ...],
                    spacing: Optional[Sequence[float]]) -> Optional[float]:
    """Volume of one voxel (or pixel of a slab) in ml, or None when unknown.

    A 3D label map needs a 3-value spacing (sz, sy, sx) in mm; a 2D slice
    needs the same 3 values (the slice thickness first) to be a slab with a
    volume. A 2-value spacing of a 2D slice gives an area, not a volume: None.

    Args:
        shape (tuple[int, ...]): Shape of the label map, (D, H, W) or (H, W).
        spacing (Sequence[float], optional): Voxel size in mm, in the axis
            order of the array.

    Returns:
        float | None: mm^3 / 1000.
    """
    if spacing is None:
        return None
    spacing = tuple(float(s) for s in spacing)
    if len(spacing) != 3 or len(shape) not in (2, 3):
        return None
    if any(not np.isfinite(s) or s <= 0 for s in spacing):
        raise ValueError(
            f'spacing {spacing} must hold positive finite sizes in mm')
    return float(np.prod(spacing)) / 1000.0


def class_volumes(
    labels: np.ndarray,
    class_names: Sequence[str],
    spacing: Optional[Sequence[float]] = None,
    include_background: bool = False
) -> Tuple[Dict[str, int], Dict[str, Optional[float]]]:
    """Count the voxels of each class and convert them to ml.

    Args:
        labels (np.ndarray): Class indices, (D, H, W) or (H, W).
        class_names (Sequence[str]): Name of each class index.
        spacing (Sequence[float], optional): (sz, sy, sx) in mm.
        include_background (bool): Also report class 0. Defaults to False.

    Returns:
        tuple[dict, dict]: ``{name: voxel count}`` and ``{name: ml or None}``.
    """
    counts = np.bincount(
        labels.reshape(-1).astype(np.int64), minlength=len(class_names))
    per_voxel = voxel_volume_ml(labels.shape, spacing)
    start = 0 if include_background else 1
    voxels = {
        str(class_names[i]): int(counts[i])
        for i in range(start, len(class_names))
    }
    ml = {
        name: None if per_voxel is None else n * per_voxel
        for name, n in voxels.items()
    }
    return voxels, ml
