"""The decode head's own (CBAM-style) attention as the guidance."""
from typing import List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from mmseg.registry import MODELS
from .base_attention_source import AttentionMaps, BaseAttentionSource


@MODELS.register_module()
class HeadAttention(BaseAttentionSource):
    """The maps ``AttUNetHead(attention=True)`` applied while decoding.

    Spatial: the mean of the chosen levels' spatial maps, each upsampled
    bilinearly to input size. Channel: each decoded level's channel weights,
    placed at the backbone output the head read it from (``in_index``), so
    any level order works.

    Args:
        levels (str | int | Sequence[int]): Head levels (in ``in_index``
            order) whose spatial maps are averaged: ``'mean'`` for all.
            Defaults to 'mean'.
    """

    requires_head_attention = True

    def __init__(self, levels: Union[str, int, Sequence[int]] = 'mean'):
        super().__init__()
        if isinstance(levels, str) and levels != 'mean':
            raise ValueError('HeadAttention: `levels` must be "mean", a level '
                             f'index or a list of them, got {levels!r}')
        self.levels = levels

    @torch.no_grad()
    def forward(self, feats: Sequence[Tensor], logits: Tensor,
                head_attention: Optional[List[dict]],
                in_index: Sequence[int]) -> AttentionMaps:
        if not head_attention:
            raise ValueError('HeadAttention needs the decode head\'s '
                             'attention (AttUNetHead with attention=True)')
        if len(head_attention) != len(in_index):
            raise ValueError(
                f'HeadAttention: the head returned {len(head_attention)} '
                f'attention levels for in_index {list(in_index)}')
        n = len(head_attention)
        if self.levels == 'mean':
            chosen = list(range(n))
        elif isinstance(self.levels, int):
            chosen = [self.levels]
        else:
            chosen = list(self.levels)
        if not chosen or any(not -n <= i < n for i in chosen):
            raise ValueError(f'HeadAttention: levels {self.levels!r} out of '
                             f'range for {n} head levels')
        size = logits.shape[2:]
        spatial = sum(
            F.interpolate(
                head_attention[i]['spatial'].detach().float(),
                size=size,
                mode='bilinear',
                align_corners=False) for i in chosen) / len(chosen)
        channel: List[Optional[Tensor]] = [None] * len(feats)
        for level, index in zip(head_attention, in_index):
            channel[index] = level['channel'].detach().float()
        return dict(spatial=spatial, channel=channel)
