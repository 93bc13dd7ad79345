"""Feature perturbation guided by the head's channel attention."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from torch import Tensor

from mmseg.registry import MODELS

ChannelAttention = Union[Dict[str, Tensor], Tensor]


def drop_channels(feat: Tensor, drop_prob: Tensor) -> Tensor:
    """Dropout2d with a probability per sample and channel.

    Each channel of each sample is zeroed with its own probability; kept
    channels are scaled by ``1 / (1 - p)`` so the expectation is unchanged
    (what ``nn.Dropout2d`` does with one ``p`` for all).

    Args:
        feat (Tensor): Feature (B, C, h, w).
        drop_prob (Tensor): Probabilities (B, C) in [0, 1].

    Returns:
        Tensor: The perturbed feature, shape, dtype and memory format of
        ``feat``.
    """
    # Draw and scale in float32 even for half-precision features (AMP): a
    # bf16 uniform has 8-bit steps and 1 / (1 - 0.7) would round to 3.33.
    drop_prob = drop_prob.float()
    keep = torch.rand_like(drop_prob) >= drop_prob
    # Dropped channels get scale 0 even where p == 1 (no 0 * inf).
    scale = keep.float() / (1 - drop_prob).clamp(min=1e-12)
    return feat * scale.to(feat.dtype)[:, :, None, None]


@MODELS.register_module()
class AttFeaPerb(nn.Module):
    """Drop encoder channels, the ones the head attends to most with
    ``p_strong`` and the others with ``p_weak``.

    Per level and per sample, channels are ranked by the head's channel
    attention for that level; the top ``round(ratio * C)`` are "strong".
    Dropping is Dropout2d-style (whole channel, survivors scaled by
    ``1 / (1 - p)``). Identity in eval mode. With ``p_strong = p_weak = 0.5``
    this is UniMatch's feature perturbation.

    Args:
        ratio (float): Fraction of channels that are strong. Defaults to 0.5.
        p_strong (float): Drop probability of strong channels.
            Defaults to 0.3: protecting the channels the model relies on
            beat perturbing them (0.7 / 0.3) on both demo seeds measured
            (docs/design_decisions.md).
        p_weak (float): Drop probability of the other channels.
            Defaults to 0.7.
        levels (Sequence[int], optional): Indices of the levels to perturb;
            others pass through unchanged. Defaults to None (all).
    """

    #: The segmentor must pass the head's attention to :meth:`forward`.
    requires_attention: bool = True

    def __init__(self,
                 ratio: float = 0.5,
                 p_strong: float = 0.3,
                 p_weak: float = 0.7,
                 levels: Optional[Sequence[int]] = None) -> None:
        super().__init__()
        if not 0.0 <= ratio <= 1.0:
            raise ValueError(f'AttFeaPerb: `ratio` must be in [0, 1], got '
                             f'{ratio}')
        for name, p in (('p_strong', p_strong), ('p_weak', p_weak)):
            if not 0.0 <= p <= 1.0:
                raise ValueError(f'AttFeaPerb: `{name}` must be in [0, 1], '
                                 f'got {p}')
        self.ratio = float(ratio)
        self.p_strong = float(p_strong)
        self.p_weak = float(p_weak)
        self.levels = None if levels is None else tuple(levels)

    def forward(self, feats: Sequence[Tensor],
                attention: List[ChannelAttention]) -> Tuple[Tensor, ...]:
        """Perturb encoder features.

        Args:
            feats (Sequence[Tensor]): Encoder levels, each (B, C_l, h_l, w_l),
                in the order the head decodes them.
            attention (list[dict | Tensor]): One entry per level, aligned
                with ``feats``: the head's ``dict(channel=Tensor(B, C_l),
                ...)`` or the channel weights (B, C_l) themselves.

        Returns:
            tuple[Tensor]: Perturbed features, same shapes as ``feats``.
        """
        feats = tuple(feats)
        if not self.training:
            return feats
        if attention is None or len(attention) != len(feats):
            got = None if attention is None else len(attention)
            raise ValueError(
                'AttFeaPerb needs one channel attention per feature level: '
                f'got {len(feats)} levels and {got} attention entries (the '
                "head's in_index must select every backbone level)")
        levels = range(len(feats)) if self.levels is None else self.levels
        chosen = {i % len(feats) for i in levels}
        out = []
        for i, feat in enumerate(feats):
            if i not in chosen:
                out.append(feat)
                continue
            weights = attention[i]
            if isinstance(weights, dict):
                weights = weights['channel']
            if weights.shape != feat.shape[:2]:
                raise ValueError(
                    f'AttFeaPerb: channel attention of level {i} has shape '
                    f'{tuple(weights.shape)}, its feature has (B, C) = '
                    f'{tuple(feat.shape[:2])}')
            out.append(drop_channels(feat, self.drop_probabilities(weights)))
        return tuple(out)

    def drop_probabilities(self, channel_attention: Tensor) -> Tensor:
        """Drop probability of every channel.

        Args:
            channel_attention (Tensor): Weights (B, C).

        Returns:
            Tensor: (B, C), ``p_strong`` for each sample's top
            ``round(ratio * C)`` channels, ``p_weak`` for the rest.
        """
        num_channels = channel_attention.shape[1]
        num_strong = int(round(self.ratio * num_channels))
        # The top-k set by one partial sort and a scatter (4 kernels, where
        # ranking by two full argsorts took about twice as many).
        strong = torch.zeros(
            channel_attention.shape,
            dtype=torch.bool,
            device=channel_attention.device)
        if num_strong > 0:
            top = channel_attention.detach().topk(
                num_strong, dim=1, sorted=False).indices
            strong.scatter_(1, top, True)
        return torch.where(strong, self.p_strong, self.p_weak).float()
