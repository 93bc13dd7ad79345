"""UniMatch's CutMix: a box at a uniformly random position."""
from typing import Tuple

import torch
from torch import Tensor

from mmseg.registry import MODELS
from .base_cutmix import BaseCutMix


@MODELS.register_module()
class RandomCutMix(BaseCutMix):
    """CutMix with UniMatch's box distribution: size as in
    :class:`BaseCutMix`, top-left corner uniform over the positions where the
    box fits. The attention arguments of :meth:`generate_mask` are ignored
    (pass None), so ``image_shape`` must include the batch size and
    ``device`` should be the images' device.

    Args:
        prob (float): Probability that a sample gets a box. Defaults to 0.5.
        area_range (tuple[float, float]): Box area as a fraction of the
            image. Defaults to (0.02, 0.4).
        aspect_range (tuple[float, float]): Range of ``h / w``.
            Defaults to (0.3, 1 / 0.3).
    """

    requires_attention = False

    def place_boxes(self, box_h: Tensor, box_w: Tensor,
                    image_size: Tuple[int, int], target_attention,
                    partner_attention) -> Tuple[Tensor, Tensor]:
        """Uniform corners among those where the box fits."""
        height, width = image_size
        u = torch.rand(
            (2, ) + box_h.shape, device=box_h.device, dtype=torch.float64)
        top = (u[0] * (height - box_h + 1)).floor().long()
        left = (u[1] * (width - box_w + 1)).floor().long()
        # rand() < 1, yet float rounding must never push a box off the edge.
        return (torch.minimum(top, height - box_h),
                torch.minimum(left, width - box_w))
