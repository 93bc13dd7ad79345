"""Softmax Dice loss over all classes, with per-pixel masking."""
from typing import Optional

import torch
import torch.nn as nn
from torch import Tensor

from mmseg.registry import MODELS


@MODELS.register_module()
class MaskedDiceLoss(nn.Module):
    """Softmax Dice loss over all classes that excludes masked pixels.

    For each class ``c`` with softmax probabilities ``p_c`` and one-hot target
    ``t_c``, sums run over every pixel of the whole batch whose mask is
    non-zero and whose target is not ``ignore_index``::

        loss_c = 1 - (2 * sum(m * p_c * t_c) + smooth)
                     / (sum(m * p_c ** 2) + sum(m * t_c ** 2) + smooth)

    and the loss is ``loss_weight * mean_c(loss_c)`` (the Dice of SSL4MIS and
    UniMatch; ``m`` is the mask, e.g. ``confidence >= threshold``). Excluded
    pixels have exactly no influence on the value or the gradient.

    Unlike mmseg's ``DiceLoss``, whose ``ignore_index`` drops a *class
    channel* from the loss (and which averages per sample over all pixels),
    ``ignore_index`` here drops *pixels*, like ``CrossEntropyLoss``.

    Args:
        smooth (float): Added to numerator and denominator; keeps a class
            absent from target and prediction at loss ~0. Defaults to 1e-5.
        loss_weight (float): Multiplier of the loss. Defaults to 1.0.
        loss_name (str): Name in the loss dict; must start with ``loss_`` to
            be back-propagated by mmseg. Defaults to ``'loss_dice'``.
        check_targets (bool): Raise on labels outside ``[0, C)`` at unmasked
            pixels. The check makes the host wait for the GPU once per call;
            the shipped configs switch it off (pseudo-labels are an argmax;
            ground-truth labels are checked when loaded, against the
            dataset's classes, which the tools check against the head's
            ``num_classes``). Defaults to True.
    """

    def __init__(self,
                 smooth: float = 1e-5,
                 loss_weight: float = 1.0,
                 loss_name: str = 'loss_dice',
                 check_targets: bool = True) -> None:
        super().__init__()
        self.smooth = smooth
        self.loss_weight = loss_weight
        self._loss_name = loss_name
        self.check_targets = check_targets

    def forward(self,
                pred: Tensor,
                target: Tensor,
                weight: Optional[Tensor] = None,
                ignore_index: Optional[int] = 255,
                **kwargs) -> Tensor:
        """Compute the loss.

        Args:
            pred (Tensor): Logits (B, C, H, W); softmax is applied here.
            target (Tensor): Labels (B, H, W), integers in [0, C) outside
                excluded pixels (anything, e.g. 255, inside them).
            weight (Tensor, optional): Pixel mask (B, H, W) or (B, 1, H, W),
                bool or float; 0 excludes a pixel. Float values multiply
                every sum, so 0/1 is a mask and other values weight pixels.
                Defaults to None (all pixels).
            ignore_index (int | None): Label value whose pixels are
                excluded; None excludes none. Defaults to 255 (mmseg's decode
                heads pass their own).
            **kwargs: Other mmseg loss arguments (``avg_factor``,
                ``reduction_override``), ignored: the loss is one scalar.

        Returns:
            Tensor: Scalar loss.
        """
        expected = (pred.shape[0], ) + tuple(pred.shape[2:])
        if pred.dim() != 4 or tuple(target.shape) != expected:
            raise ValueError(
                'MaskedDiceLoss: expected pred (B, C, H, W) logits and target '
                f'(B, H, W) labels, got pred {tuple(pred.shape)} and target '
                f'{tuple(target.shape)}')
        if target.is_floating_point():
            raise ValueError('MaskedDiceLoss: target must hold integer class '
                             f'indices, got dtype {target.dtype}')
        num_classes = pred.shape[1]
        if pred.dtype in (torch.float16, torch.bfloat16):
            pred = pred.float()  # batch-wide sums overflow half precision

        mask = torch.ones_like(target, dtype=pred.dtype)
        if weight is not None:
            if weight.dim() == 4 and weight.shape[1] == 1:
                weight = weight[:, 0]
            if weight.shape != target.shape:
                raise ValueError(
                    'MaskedDiceLoss: weight (pixel mask) must have the '
                    f'target shape {tuple(target.shape)} (or (B, 1, H, W)), '
                    f'got {tuple(weight.shape)}')
            mask = mask * weight.to(pred.dtype)
        if ignore_index is not None:
            mask = mask * (target != ignore_index).to(pred.dtype)

        if self.check_targets:
            self._check_targets(target, mask, num_classes, ignore_index)

        # Comparing against each class (not one_hot) keeps excluded pixels'
        # labels, whatever they are, out of the computation.
        classes = torch.arange(num_classes, device=target.device)
        onehot = (target.unsqueeze(1) == classes.view(1, -1, 1,
                                                      1)).to(pred.dtype)
        prob = pred.softmax(dim=1)
        m = mask.unsqueeze(1)
        dims = (0, 2, 3)
        intersect = (prob * onehot * m).sum(dims)
        pred_sq = (prob * prob * m).sum(dims)
        target_sq = (onehot * m).sum(dims)  # onehot ** 2 == onehot
        dice = (2 * intersect + self.smooth) / (
            pred_sq + target_sq + self.smooth)
        return self.loss_weight * (1 - dice).mean()

    @staticmethod
    def _check_targets(target: Tensor, mask: Tensor, num_classes: int,
                       ignore_index) -> None:
        invalid = (mask != 0) & ((target < 0) | (target >= num_classes))
        if bool(invalid.any()):
            bad = target[invalid]
            raise ValueError(
                f'MaskedDiceLoss: target has labels {bad.unique().tolist()} '
                f'outside [0, {num_classes}) at pixels that are not masked '
                f'out (ignore_index={ignore_index})')

    @property
    def loss_name(self) -> str:
        """Name of the loss item in mmseg's loss dict."""
        return self._loss_name
