"""Grad-CAM of the foreground score on the backbone's outputs."""
from typing import List, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from mmseg.registry import MODELS
from .base_attention_source import (AttentionMaps, BaseAttentionSource,
                                    normalise_per_image)


@MODELS.register_module()
class GradCAMAttention(BaseAttentionSource):
    """Where, and through which channels, the features raise the predicted
    foreground (Selvaraju et al., ICCV 2017).

    The score is each image's summed foreground probability
    ``sum(1 - p(background))``; its gradient with respect to every decoded
    backbone output ``f_i`` gives channel weights ``w_i = mean_xy(dS/df_i)``
    (the channel attention, per output) and, at output ``level``, the map
    ``relu(sum_c w_c f_c)`` upsampled to input size and scaled to [0, 1]
    per image (the spatial attention). One extra backward pass through the
    decoder (the graph is kept for the training loss).

    Args:
        level (int): Backbone output whose Grad-CAM is the spatial map.
            Defaults to -2 (the level above the bottleneck: 1/8 of the input
            for the UNet encoder).
        background (int): Index of the background class. Defaults to 0.
    """

    needs_gradients = True

    def __init__(self, level: int = -2, background: int = 0):
        super().__init__()
        self.level = level
        self.background = background

    def forward(self, feats: Sequence[Tensor], logits: Tensor,
                head_attention: Optional[List[dict]],
                in_index: Sequence[int]) -> AttentionMaps:
        level = self.level % len(feats)
        wanted = sorted(set(in_index) | {level})
        inputs = [feats[i] for i in wanted]
        if not logits.requires_grad or not all(f.requires_grad
                                               for f in inputs):
            raise RuntimeError(
                'GradCAMAttention needs the clean pass with gradients '
                '(a training step)')
        prob = logits.float().softmax(dim=1)
        score = (1 - prob[:, self.background]).sum()
        grads = torch.autograd.grad(
            score, inputs, retain_graph=True, allow_unused=True)
        grads = {
            i: torch.zeros_like(f) if g is None else g
            for i, f, g in zip(wanted, inputs, grads)
        }
        with torch.no_grad():
            channel: List[Optional[Tensor]] = [None] * len(feats)
            for i in in_index:
                channel[i] = grads[i].float().mean((2, 3))
            weights = grads[level].float().mean((2, 3), keepdim=True)
            cam = F.relu((weights * feats[level].detach().float()).sum(
                1, keepdim=True))
            cam = F.interpolate(
                cam, size=logits.shape[2:], mode='bilinear',
                align_corners=False)
            return dict(spatial=normalise_per_image(cam), channel=channel)
