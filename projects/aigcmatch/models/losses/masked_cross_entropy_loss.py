"""Cross-entropy averaged over the pixels a mask keeps."""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmseg.registry import MODELS


@MODELS.register_module()
class MaskedCrossEntropyLoss(nn.Module):
    """``sum(m * CE) / sum(m)`` over the batch's pixels.

    The pixel-wise cross-entropy of FixMatch-style consistency on confident
    pseudo-labels: excluded pixels (mask 0, or target ``ignore_index``) have
    no influence on value or gradient, and the average is over the kept
    pixels only (mmseg's ``CrossEntropyLoss`` with a ``weight`` averages over
    all pixels, so its scale would follow the share of confident pixels).
    Zero when no pixel is kept.

    Args:
        loss_weight (float): Multiplier of the loss. Defaults to 1.0.
        loss_name (str): Name in the loss dict. Defaults to 'loss_ce'.
    """

    def __init__(self,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_ce') -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    def forward(self,
                pred: Tensor,
                target: Tensor,
                weight: Optional[Tensor] = None,
                ignore_index: Optional[int] = 255,
                **kwargs) -> Tensor:
        """Compute the loss.

        Args:
            pred (Tensor): Logits (B, C, H, W).
            target (Tensor): Labels (B, H, W).
            weight (Tensor, optional): Pixel mask (B, H, W) or (B, 1, H, W).
                Defaults to None (all pixels).
            ignore_index (int | None): Label value whose pixels are
                excluded. Defaults to 255.
            **kwargs: Other mmseg loss arguments, ignored.

        Returns:
            Tensor: Scalar loss.
        """
        expected = (pred.shape[0], ) + tuple(pred.shape[2:])
        if pred.dim() != 4 or tuple(target.shape) != expected:
            raise ValueError(
                'MaskedCrossEntropyLoss: expected pred (B, C, H, W) logits '
                'and target (B, H, W) labels, got pred '
                f'{tuple(pred.shape)} and target {tuple(target.shape)}')
        mask = torch.ones_like(target, dtype=torch.float32)
        if weight is not None:
            if weight.dim() == 4 and weight.shape[1] == 1:
                weight = weight[:, 0]
            mask = mask * weight.float()
        if ignore_index is not None:
            mask = mask * (target != ignore_index).float()
            target = target.masked_fill(target == ignore_index, 0)
        ce = F.cross_entropy(pred.float(), target.long(), reduction='none')
        return self.loss_weight * (ce * mask).sum() / mask.sum().clamp_min(1)

    @property
    def loss_name(self) -> str:
        """Name of the loss item in mmseg's loss dict."""
        return self._loss_name
