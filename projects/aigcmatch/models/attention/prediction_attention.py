"""Attention read off the clean prediction: where the model sees anatomy."""
from typing import List, Optional, Sequence

import torch
from torch import Tensor

from mmseg.registry import MODELS
from .base_attention_source import (AttentionMaps, BaseAttentionSource,
                                    channel_selectivity)

MODES = ('foreground', 'confident_foreground')


@MODELS.register_module()
class PredictionAttention(BaseAttentionSource):
    """Spatial map from the clean softmax, channel weights from the features
    under it; needs no attention modules in the network.

    * ``'foreground'``: ``1 - p(background)``;
    * ``'confident_foreground'``: ``(1 - p(background)) * max_k p(k)``, so
      uncertain boundaries weigh less.

    Channel weights: :func:`channel_selectivity` of every decoded backbone
    output under that map (channels that fire on the predicted anatomy).

    Args:
        mode (str): See above. Defaults to 'foreground'.
        background (int): Index of the background class. Defaults to 0.
    """

    def __init__(self, mode: str = 'foreground', background: int = 0):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f'PredictionAttention: `mode` must be one of '
                             f'{MODES}, got {mode!r}')
        self.mode = mode
        self.background = background

    @torch.no_grad()
    def forward(self, feats: Sequence[Tensor], logits: Tensor,
                head_attention: Optional[List[dict]],
                in_index: Sequence[int]) -> AttentionMaps:
        prob = logits.detach().float().softmax(dim=1)
        if not 0 <= self.background < prob.shape[1]:
            raise ValueError(f'PredictionAttention: background index '
                             f'{self.background} but {prob.shape[1]} classes')
        spatial = 1 - prob[:, self.background:self.background + 1]
        if self.mode == 'confident_foreground':
            spatial = spatial * prob.amax(dim=1, keepdim=True)
        return dict(
            spatial=spatial,
            channel=channel_selectivity(feats, spatial, in_index))
