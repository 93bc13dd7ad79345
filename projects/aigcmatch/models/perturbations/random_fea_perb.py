"""UniMatch's feature perturbation: Dropout2d on every encoder level."""
from typing import Optional, Sequence, Tuple

import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmseg.registry import MODELS


@MODELS.register_module()
class RandomFeaPerb(nn.Module):
    """``nn.Dropout2d(p)`` on every channel of every (chosen) level.

    Same interface as :class:`AttFeaPerb`; the attention is ignored.
    Identity in eval mode.

    Args:
        p (float): Drop probability of each channel. Defaults to 0.5.
        levels (Sequence[int], optional): Levels to perturb. Defaults to None
            (all).
    """

    requires_attention: bool = False

    def __init__(self,
                 p: float = 0.5,
                 levels: Optional[Sequence[int]] = None) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f'RandomFeaPerb: `p` must be in [0, 1], got {p}')
        self.p = float(p)
        self.levels = None if levels is None else tuple(levels)

    def forward(self,
                feats: Sequence[Tensor],
                attention=None) -> Tuple[Tensor, ...]:
        """Perturb encoder features.

        Args:
            feats (Sequence[Tensor]): Encoder levels (B, C_l, h_l, w_l).
            attention: Ignored.

        Returns:
            tuple[Tensor]: Perturbed features, same shapes.
        """
        feats = tuple(feats)
        if not self.training:
            return feats
        levels = range(len(feats)) if self.levels is None else self.levels
        chosen = {i % len(feats) for i in levels}
        return tuple(
            F.dropout2d(f, self.p, training=True) if i in chosen else f
            for i, f in enumerate(feats))
