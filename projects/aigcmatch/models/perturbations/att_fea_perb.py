"""Feature perturbation guided by the head's channel attention."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
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

    ``mode='channel'``: per level and per sample, channels are ranked by the
    channel attention for that level; the top ``round(ratio * C)`` are
    "strong". Dropping is Dropout2d-style (whole channel, survivors scaled by
    ``1 / (1 - p)``). With ``p_strong = p_weak = 0.5`` this is UniMatch's
    feature perturbation.

    ``mode='spatial'``: the same with feature *positions* instead of
    channels: at every level the spatial attention (resized to the level)
    ranks each sample's positions, the top ``ratio`` are strong, and a
    dropped position loses all its channels.

    Identity in eval mode. Levels whose channel attention is None (outputs
    the head does not decode) pass through unchanged.

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
        mode (str): ``'channel'`` or ``'spatial'`` (see above). Defaults to
            'channel'.
    """

    #: The segmentor must pass the head's attention to :meth:`forward`.
    requires_attention: bool = True

    def __init__(self,
                 ratio: float = 0.5,
                 p_strong: float = 0.3,
                 p_weak: float = 0.7,
                 levels: Optional[Sequence[int]] = None,
                 mode: str = 'channel') -> None:
        super().__init__()
        if mode not in ('channel', 'spatial'):
            raise ValueError('AttFeaPerb: `mode` must be "channel" or '
                             f'"spatial", got {mode!r}')
        self.mode = mode
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
                attention) -> Tuple[Tensor, ...]:
        """Perturb encoder features.

        Args:
            feats (Sequence[Tensor]): Backbone outputs, each
                (B, C_l, h_l, w_l).
            attention (dict | list): An attention source's maps
                (``dict(spatial=Tensor(B, 1, H, W), channel=[...])``), or a
                list with one entry per output, aligned with ``feats``: a
                ``dict(channel=Tensor(B, C_l), ...)``, the channel weights
                (B, C_l) themselves, or None (output left alone).

        Returns:
            tuple[Tensor]: Perturbed features, same shapes as ``feats``.
        """
        feats = tuple(feats)
        if not self.training:
            return feats
        spatial = None
        if isinstance(attention, dict):
            spatial = attention.get('spatial')
            attention = attention.get('channel')
        if self.mode == 'spatial':
            if spatial is None:
                raise ValueError("AttFeaPerb(mode='spatial') needs an "
                                 "attention source's spatial map")
            return self._drop_positions(feats, spatial, attention)
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
            if weights is None:  # not decoded by the head
                out.append(feat)
                continue
            if weights.shape != feat.shape[:2]:
                raise ValueError(
                    f'AttFeaPerb: channel attention of level {i} has shape '
                    f'{tuple(weights.shape)}, its feature has (B, C) = '
                    f'{tuple(feat.shape[:2])}')
            out.append(drop_channels(feat, self.drop_probabilities(weights)))
        return tuple(out)

    def _drop_positions(self, feats: Tuple[Tensor, ...], spatial: Tensor,
                        channel) -> Tuple[Tensor, ...]:
        levels = range(len(feats)) if self.levels is None else self.levels
        chosen = {i % len(feats) for i in levels}
        out = []
        for i, feat in enumerate(feats):
            skip = channel is not None and i < len(channel) and \
                channel[i] is None
            if i not in chosen or skip:
                out.append(feat)
                continue
            att = F.interpolate(
                spatial.detach().float(), size=feat.shape[2:], mode='area')
            prob = self.drop_probabilities(att.flatten(1))
            keep = torch.rand_like(prob) >= prob
            scale = keep.float() / (1 - prob).clamp(min=1e-12)
            out.append(feat * scale.view_as(att).to(feat.dtype))
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
