"""UniMatch's weak geometric augmentation for medical slices."""
from typing import Sequence, Tuple, Union

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS


@TRANSFORMS.register_module()
class RandomRotFlipOrRotate(BaseTransform):
    """Rot90·k + flip with ``rotflip_prob``, else a small rotation.

    One geometric draw moves the image and every map in ``seg_fields``
    identically: with probability ``rotflip_prob`` the slice is rotated by
    k·90° (k uniform in 0..3) and then flipped along a random axis (with
    ``flip_prob`` inside that branch; UniMatch always flips); otherwise, with
    probability ``rotate_prob``, it is rotated by an angle uniform in
    ``degree`` about its centre, keeping its size (labels with nearest
    interpolation, the image with ``interpolation``, nearest by default as in
    UniMatch); otherwise it is left unchanged.

    mmseg's ``RandomRotFlip`` is not used: it tries the rotation first (so
    the branch probabilities differ from UniMatch's) and rotates label maps
    bilinearly, which invents class indices at boundaries.

    Required Keys:

    - img
    - seg_fields (optional; e.g. ``['gt_seg_map']``)

    Modified Keys:

    - img
    - the maps named in seg_fields
    - img_shape (a rot90 swaps height and width)

    Args:
        rotflip_prob (float): Probability of the rot90·k + flip branch.
            Defaults to 0.5.
        rotate_prob (float): Probability of a rotation when the first branch
            was not taken. Defaults to 0.5.
        degree (float | tuple[float, float]): Rotation range in degrees;
            a number d means (-d, d). Defaults to (-20, 20).
        flip_prob (float): Probability of the flip inside the first branch.
            Defaults to 1.0.
        interpolation (str): Image interpolation of the rotation, one of
            mmcv's ("nearest", "bilinear", ...). Defaults to 'nearest'.
        pad_val (float): Image value outside the rotated slice.
            Defaults to 0.
        seg_pad_val (int): Label value outside the rotated slice
            (0 = background, as UniMatch). Defaults to 0.
    """

    def __init__(self,
                 rotflip_prob: float = 0.5,
                 rotate_prob: float = 0.5,
                 degree: Union[float, Sequence[float]] = (-20, 20),
                 flip_prob: float = 1.0,
                 interpolation: str = 'nearest',
                 pad_val: float = 0,
                 seg_pad_val: int = 0) -> None:
        for name, p in (('rotflip_prob', rotflip_prob),
                        ('rotate_prob', rotate_prob), ('flip_prob',
                                                       flip_prob)):
            if not 0 <= p <= 1:
                raise ValueError(f'{type(self).__name__}: {name}={p}; '
                                 'expected a probability in [0, 1]')
        if isinstance(degree, (int, float)):
            degree = (-abs(degree), abs(degree))
        if len(degree) != 2 or degree[0] > degree[1]:
            raise ValueError(f'{type(self).__name__}: degree={degree}; '
                             'expected (min, max) with min <= max')
        self.rotflip_prob = rotflip_prob
        self.rotate_prob = rotate_prob
        self.degree: Tuple[float, float] = (float(degree[0]), float(degree[1]))
        self.flip_prob = flip_prob
        self.interpolation = interpolation
        self.pad_val = pad_val
        self.seg_pad_val = seg_pad_val

    def _rot_flip(self, results: dict) -> None:
        k = np.random.randint(4)
        flip = np.random.rand() < self.flip_prob
        axis = np.random.randint(2)
        for key in ['img'] + list(results.get('seg_fields', [])):
            array = np.rot90(results[key], k)
            if flip:
                array = np.flip(array, axis=axis)
            results[key] = np.ascontiguousarray(array)

    def _rotate(self, results: dict) -> None:
        angle = np.random.uniform(*self.degree)
        results['img'] = mmcv.imrotate(
            results['img'],
            angle,
            border_value=self.pad_val,
            interpolation=self.interpolation)
        for key in results.get('seg_fields', []):
            results[key] = mmcv.imrotate(
                results[key],
                angle,
                border_value=self.seg_pad_val,
                interpolation='nearest')

    def transform(self, results: dict) -> dict:
        """Draw one geometric transform and apply it to image and labels.

        Args:
            results (dict): Result dict with ``img`` (H, W[, C]).

        Returns:
            dict: The transformed results.
        """
        if np.random.rand() < self.rotflip_prob:
            self._rot_flip(results)
        elif np.random.rand() < self.rotate_prob:
            self._rotate(results)
        results['img_shape'] = results['img'].shape[:2]
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(rotflip_prob={self.rotflip_prob}, '
                f'rotate_prob={self.rotate_prob}, degree={self.degree}, '
                f'flip_prob={self.flip_prob}, '
                f'interpolation={self.interpolation!r}, '
                f'pad_val={self.pad_val}, seg_pad_val={self.seg_pad_val})')
