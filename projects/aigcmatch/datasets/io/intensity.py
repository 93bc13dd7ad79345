"""Per-volume intensity normalisation to [0, 1], robust to extreme voxels.

SSL4MIS and UniMatch min-max normalise every ACDC volume: ``(x - min) /
(max - min)``. One extreme voxel — a scanner marker, a corrupt value, a CT
metal streak, 1e30 — then becomes the maximum and squashes the rest of the
image towards 0: the model sees a blank scan. The schemes here:

``'robust_minmax'`` (default)
    Min-max over the voxels that are not *far* outliers. A voxel is far when
    it lies more than ``outlier_factor`` times the width of the
    ``percentiles`` range (0.5th-99.5th by default) below or above that
    range; far voxels take the median of their in-plane 3 x 3 neighbourhood
    (clipped to the range of the rest first). On a scan without far voxels
    this *is* min-max, to the bit, so models trained on the SSL4MIS/UniMatch
    files see exactly what they were trained on.
``'minmax'``
    Plain min-max, UniMatch's exact preprocessing (outliers squash the
    image).
``'percentile'``
    Clip to the ``percentiles`` range, then scale it to [0, 1] (nnU-Net's
    clipping). Every image changes a little: the brightest and darkest
    0.5 % saturate.

Whenever far voxels exist, an :class:`IntensityOutlierWarning` names the
file, how many there were and what was done with them. :func:`minmax_normalise`
is plain min-max with an optional clip, outside the schemes.
"""
import math
import warnings
from dataclasses import asdict, dataclass
from typing import Any, Optional, Tuple

import numpy as np

#: The schemes :func:`normalise_intensity` knows.
METHODS = ('robust_minmax', 'minmax', 'percentile')


class IntensityOutlierWarning(UserWarning):
    """A scan holds voxels far outside the intensity range of the rest."""

    #: The tools print it as one ``warning: ...`` line (utils.cli).
    one_line = True


@dataclass(frozen=True)
class IntensityNorm:
    """How raw intensities are mapped to [0, 1].

    Args:
        method (str): One of :data:`METHODS`. Defaults to
            ``'robust_minmax'``.
        percentiles (tuple[float, float]): The range the outlier test (and
            the ``'percentile'`` clip) is based on. Defaults to (0.5, 99.5).
        outlier_factor (float): A voxel is a far outlier beyond this many
            widths of the percentile range outside it. Defaults to 3.0.
    """
    method: str = 'robust_minmax'
    percentiles: Tuple[float, float] = (0.5, 99.5)
    outlier_factor: float = 3.0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f'intensity_norm.method={self.method!r}; '
                             f'expected one of {METHODS}')
        low, high = (float(p) for p in self.percentiles)
        if not 0.0 <= low < high <= 100.0:
            raise ValueError(
                f'intensity_norm.percentiles={tuple(self.percentiles)}; '
                'expected (low, high) with 0 <= low < high <= 100')
        if not (math.isfinite(self.outlier_factor)
                and self.outlier_factor > 0):
            raise ValueError(
                f'intensity_norm.outlier_factor={self.outlier_factor!r}; '
                'expected a positive number')
        object.__setattr__(self, 'percentiles', (low, high))
        object.__setattr__(self, 'outlier_factor', float(self.outlier_factor))

    @classmethod
    def from_config(cls, value: Any) -> 'IntensityNorm':
        """Build from a config value: None (the default), a method name, a
        dict of the fields or an :class:`IntensityNorm`.

        Raises:
            ValueError: Unknown method or keys, bad percentiles or factor.
        """
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            return cls(method=value)
        if isinstance(value, dict):
            unknown = set(value) - {'method', 'percentiles', 'outlier_factor'}
            if unknown:
                raise ValueError(
                    f'intensity_norm has unknown key(s) {sorted(unknown)}; '
                    "expected 'method', 'percentiles', 'outlier_factor'")
            return cls(**dict(value))
        raise ValueError(f'intensity_norm={value!r}; expected a method name '
                         f'{METHODS} or a dict(method=..., percentiles=..., '
                         'outlier_factor=...)')

    def to_dict(self) -> dict:
        """The fields as a plain dict (configs, h5 attributes)."""
        return asdict(self)


@dataclass(frozen=True)
class NormalisationInfo:
    """What :func:`normalise_intensity` did to one image.

    Attributes:
        low (float): Intensity mapped to 0.
        high (float): Intensity mapped to 1.
        num_far (int): Voxels far outside the percentile range.
        num_clipped (int): Voxels changed by clipping (below ``low`` or above
            ``high``).
        raw_range (tuple[float, float]): Minimum and maximum of the input.
        percentile_range (tuple[float, float]): The percentiles of the input.
    """
    low: float
    high: float
    num_far: int
    num_clipped: int
    raw_range: Tuple[float, float]
    percentile_range: Tuple[float, float]


def normalise_intensity(
        image: np.ndarray,
        norm: Any = None,
        source: Optional[str] = None,
        warn: bool = True) -> Tuple[np.ndarray, NormalisationInfo]:
    """Map one volume (or slice) of raw intensities to [0, 1].

    Args:
        image (np.ndarray): Finite intensities, any shape.
        norm (IntensityNorm | dict | str, optional): The scheme
            (:meth:`IntensityNorm.from_config`); None: ``'robust_minmax'``.
        source (str, optional): The file, named by the warning.
        warn (bool): Issue an :class:`IntensityOutlierWarning` when far
            outliers exist. Defaults to True.

    Returns:
        tuple[np.ndarray, NormalisationInfo]: float32 image in [0, 1] (all
        0 for a constant image), and what was done.
    """
    norm = IntensityNorm.from_config(norm)
    image = np.asarray(image, dtype=np.float32)
    if image.size == 0:
        return image.copy(), NormalisationInfo(0.0, 0.0, 0, 0, (0.0, 0.0),
                                               (0.0, 0.0))
    raw_lo, raw_hi = float(image.min()), float(image.max())
    # the bounds are computed in Python floats (float64): a 1e30 voxel
    # cannot overflow them
    p_lo, p_hi = (float(v) for v in np.percentile(image, norm.percentiles))
    width = p_hi - p_lo
    far_lo, far_hi = (p_lo - norm.outlier_factor * width,
                      p_hi + norm.outlier_factor * width)
    # width 0 (more than 99 % of voxels equal): no scale to judge by
    far = (image < far_lo) | (image > far_hi) if width > 0 else None
    num_far = int(np.count_nonzero(far)) if far is not None else 0

    if norm.method == 'percentile' and width > 0:
        lo, hi = p_lo, p_hi
    elif norm.method == 'robust_minmax' and num_far:
        inliers = image[~far]
        lo, hi = float(inliers.min()), float(inliers.max())
    else:  # 'minmax', or nothing to clip
        lo, hi = raw_lo, raw_hi
    clipped = image if (lo, hi) == (raw_lo, raw_hi) else np.clip(
        image, lo, hi)
    num_clipped = 0 if clipped is image else int(
        np.count_nonzero((image < lo) | (image > hi)))
    if norm.method == 'robust_minmax' and num_far:
        clipped = _despeckle(clipped, far)
    # a constant volume carries no contrast: zeros, not a division by zero
    scale = hi - lo if hi > lo else 1.0
    out = ((clipped - lo) / scale).astype(np.float32)
    info = NormalisationInfo(lo, hi, num_far, num_clipped, (raw_lo, raw_hi),
                             (p_lo, p_hi))
    if warn and num_far:
        warnings.warn(outlier_message(info, norm, source),
                      IntensityOutlierWarning)
    return out, info


def _despeckle(image: np.ndarray, far: np.ndarray) -> np.ndarray:
    """Far voxels take the median of their in-plane 3 x 3 neighbourhood.

    A lone corrupt voxel clipped to the maximum would still be a bright
    speck the model reacts to; its neighbours' median is what the scan most
    likely held there. A cluster of far voxels (a marker) keeps the clip
    value, the median of a mostly clipped window.
    """
    from scipy.ndimage import median_filter
    size = (1, ) * (image.ndim - 2) + (3, 3) if image.ndim >= 2 else 3
    out = image.copy()
    out[far] = median_filter(image, size=size, mode='nearest')[far]
    return out


def outlier_message(info: NormalisationInfo, norm: IntensityNorm,
                    source: Optional[str]) -> str:
    """The warning for an image with far outliers, naming ``source``."""
    p_lo, p_hi = info.percentile_range
    what = (f'{source or "image"}: {info.num_far} voxel(s) far outside the '
            f'intensity range of the rest (values {info.raw_range[0]:.6g}..'
            f'{info.raw_range[1]:.6g}; {norm.percentiles[0]:g}th-'
            f'{norm.percentiles[1]:g}th percentiles {p_lo:.6g}..{p_hi:.6g})')
    if norm.method == 'minmax':
        return (f'{what}; normalised with plain min-max as asked '
                "(intensity_norm 'minmax'), they squash the rest of the "
                "image towards one value ('robust_minmax' replaces them)")
    if norm.method == 'percentile':
        return (f'{what} were clipped to {info.low:.6g}..{info.high:.6g} '
                'before normalisation (percentile)')
    return (f'{what} were replaced by the median of their in-plane 3x3 '
            f'neighbourhood; the rest, {info.low:.6g}..{info.high:.6g}, was '
            'min-max normalised (robust_minmax)')


def minmax_normalise(
    image: np.ndarray,
    clip: Optional[Tuple[float, float]] = None
) -> Tuple[np.ndarray, Tuple[float, float]]:
    """Per-volume min-max normalisation to [0, 1] (SSL4MIS ACDC convention).

    Plain min-max: one extreme voxel squashes the image. The converters use
    :func:`normalise_intensity` (``'robust_minmax'``), which is
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
