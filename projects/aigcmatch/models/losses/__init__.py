"""Losses."""
from .combined_loss import CombinedLoss
from .masked_cross_entropy_loss import MaskedCrossEntropyLoss
from .masked_dice_loss import MaskedDiceLoss

__all__ = ['MaskedDiceLoss', 'MaskedCrossEntropyLoss', 'CombinedLoss']
