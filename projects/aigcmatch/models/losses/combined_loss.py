"""The sum of several pixel losses, as one loss module."""
from typing import Optional, Sequence

import torch.nn as nn
from torch import Tensor

from mmseg.registry import MODELS


@MODELS.register_module()
class CombinedLoss(nn.Module):
    """Sum of losses that share the ``(pred, target, weight=mask)`` call,
    e.g. the unlabeled ``(CE + Dice) / 2`` of the labeled loss::

        unsup_loss=dict(type='CombinedLoss', losses=[
            dict(type='MaskedCrossEntropyLoss', loss_weight=0.5),
            dict(type='MaskedDiceLoss', loss_weight=0.5, check_targets=False)])

    Args:
        losses (Sequence[dict]): Loss configs; each one's ``loss_weight``
            scales it.
        loss_name (str): Name in a loss dict. Defaults to 'loss_combined'.
    """

    def __init__(self,
                 losses: Sequence[dict],
                 loss_name: str = 'loss_combined') -> None:
        super().__init__()
        if not losses:
            raise ValueError('CombinedLoss: `losses` must name at least one '
                             'loss')
        self.losses = nn.ModuleList(MODELS.build(cfg) for cfg in losses)
        self._loss_name = loss_name

    def forward(self,
                pred: Tensor,
                target: Tensor,
                weight: Optional[Tensor] = None,
                **kwargs) -> Tensor:
        """The sum of every loss on the same arguments."""
        return sum(loss(pred, target, weight=weight, **kwargs)
                   for loss in self.losses)

    @property
    def loss_name(self) -> str:
        """Name of the loss item in mmseg's loss dict."""
        return self._loss_name
