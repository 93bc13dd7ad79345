"""Brightness/contrast jitter for single-channel float images."""
from typing import Optional, Tuple

import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS


@TRANSFORMS.register_module()
class GrayscaleColorJitter(BaseTransform):
    """Random brightness and contrast of a grayscale float image.

    The photometric part of UniMatch's strong view (torchvision's
    ``ColorJitter(0.5, 0.5, 0.5, 0.25)`` applied with p 0.8 to a grayscale
    slice, where saturation and hue have no effect). Brightness scales the
    image by a factor b; contrast blends it with its mean by a factor c
    (``mean + c * (img - mean)``); b and c are uniform in
    ``[max(0, 1 - s), 1 + s]`` and the two are applied in random order, as
    torchvision does. mmseg's ``PhotoMetricDistortion`` expects 8-bit 3-channel
    images, so it does not fit these float slices.

    Required Keys:

    - img

    Modified Keys:

    - img

    Args:
        brightness (float): Strength s of the brightness jitter; 0 disables
            it. Defaults to 0.5.
        contrast (float): Strength s of the contrast jitter; 0 disables it.
            Defaults to 0.5.
        prob (float): Probability of applying the jitter at all.
            Defaults to 0.8.
        clip_range (tuple[float, float], optional): Range the result is
            clipped to (the min-max normalised slices live in [0, 1]); None
            disables clipping. Defaults to (0., 1.).
    """

    def __init__(
        self,
        brightness: float = 0.5,
        contrast: float = 0.5,
        prob: float = 0.8,
        clip_range: Optional[Tuple[float, float]] = (0., 1.)
    ) -> None:
        if brightness < 0 or contrast < 0:
            raise ValueError(f'{type(self).__name__}: brightness={brightness}'
                             f', contrast={contrast}; expected values >= 0')
        if not 0 <= prob <= 1:
            raise ValueError(f'{type(self).__name__}: prob={prob}; expected '
                             'a probability in [0, 1]')
        self.brightness = brightness
        self.contrast = contrast
        self.prob = prob
        self.clip_range = clip_range

    @staticmethod
    def _factor(strength: float) -> float:
        return np.random.uniform(max(0., 1. - strength), 1. + strength)

    def transform(self, results: dict) -> dict:
        """Jitter the image.

        Args:
            results (dict): Result dict with a float ``img``.

        Returns:
            dict: ``results`` with the jittered image (same dtype).
        """
        if np.random.rand() >= self.prob:
            return results
        img = results['img']
        out = img.astype(np.float32, copy=True)
        ops = []
        if self.brightness > 0:
            ops.append(('brightness', self._factor(self.brightness)))
        if self.contrast > 0:
            ops.append(('contrast', self._factor(self.contrast)))
        for i in np.random.permutation(len(ops)):
            name, factor = ops[i]
            if name == 'brightness':
                out = out * factor
            else:
                out = out.mean() + factor * (out - out.mean())
            if self.clip_range is not None:
                # torchvision clips after each op on its [0, 1] images.
                out = np.clip(out, *self.clip_range)
        results['img'] = out.astype(img.dtype, copy=False)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(brightness={self.brightness}, '
                f'contrast={self.contrast}, prob={self.prob}, '
                f'clip_range={self.clip_range})')
