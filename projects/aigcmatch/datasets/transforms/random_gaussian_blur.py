"""Gaussian blur with a random sigma, for 2D slices."""
from typing import Tuple

import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS
from scipy.ndimage import gaussian_filter


@TRANSFORMS.register_module()
class RandomGaussianBlur(BaseTransform):
    """Blur the image with a Gaussian of sigma uniform in ``sigma``.

    UniMatch's strong-view blur (sigma U(0.1, 2), p 0.5), with
    :func:`scipy.ndimage.gaussian_filter` over the two spatial axes only.
    mmseg's ``BioMedicalGaussianBlur`` expects channel-first (C, Z, Y, X)
    volumes, so it does not fit (H, W) slices.

    Required Keys:

    - img

    Modified Keys:

    - img

    Args:
        sigma (tuple[float, float]): Range of the standard deviation in
            pixels. Defaults to (0.1, 2.0).
        prob (float): Probability of blurring. Defaults to 0.5.
        mode (str): Border handling of :func:`scipy.ndimage.gaussian_filter`.
            Defaults to 'nearest'.
    """

    def __init__(self,
                 sigma: Tuple[float, float] = (0.1, 2.0),
                 prob: float = 0.5,
                 mode: str = 'nearest') -> None:
        if len(sigma) != 2 or not 0 < sigma[0] <= sigma[1]:
            raise ValueError(f'{type(self).__name__}: sigma={sigma}; '
                             'expected (min, max) with 0 < min <= max')
        if not 0 <= prob <= 1:
            raise ValueError(f'{type(self).__name__}: prob={prob}; expected '
                             'a probability in [0, 1]')
        self.sigma = (float(sigma[0]), float(sigma[1]))
        self.prob = prob
        self.mode = mode

    def transform(self, results: dict) -> dict:
        """Blur the image.

        Args:
            results (dict): Result dict with ``img`` (H, W[, C]).

        Returns:
            dict: ``results`` with the blurred image (same dtype).
        """
        if np.random.rand() >= self.prob:
            return results
        img = results['img']
        sigma = np.random.uniform(*self.sigma)
        # Channels (if any) are not blurred into each other.
        sigmas = (sigma, sigma) + (0., ) * (img.ndim - 2)
        blurred = gaussian_filter(
            img.astype(np.float32), sigma=sigmas, mode=self.mode)
        results['img'] = blurred.astype(img.dtype, copy=False)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(sigma={self.sigma}, prob={self.prob}, '
                f'mode={self.mode!r})')
