"""A light CBAM-style channel + spatial attention that reports its maps."""
from typing import Dict, Tuple

import torch
import torch.nn as nn
from torch import Tensor


class ChannelSpatialAttention(nn.Module):
    """Channel attention then spatial attention, as in CBAM (Woo et al.,
    ECCV 2018), returning the weights it applied.

    Channel weights come from a shared two-layer MLP over the average- and
    max-pooled feature; the spatial map from a ``k x k`` convolution over the
    channel-wise mean and max of the channel-weighted feature. Both go through
    a sigmoid, so they lie in (0, 1).

    Args:
        channels (int): Channels of the feature it is applied to.
        reduction (int): Hidden width of the channel MLP is
            ``max(channels // reduction, min(min_hidden, channels))``.
            Defaults to 8.
        min_hidden (int): Lower bound of the MLP's hidden width, so thin
            levels (16 channels) keep a usable bottleneck. Defaults to 4.
        spatial_kernel (int): Odd kernel size of the spatial convolution.
            Defaults to 7.
        gating (str): How the weights are applied: ``'multiply'`` (CBAM:
            ``x * a``, each gate in (0, 1) can switch a feature off) or
            ``'residual'`` (``x * (1 + a)``, as residual attention networks:
            each gate in (1, 2), so no feature is lost while the attention
            is still learnt through the gradient it receives). The returned
            weights are ``a`` either way. Defaults to 'multiply'.
    """

    def __init__(self,
                 channels: int,
                 reduction: int = 8,
                 min_hidden: int = 4,
                 spatial_kernel: int = 7,
                 gating: str = 'multiply') -> None:
        super().__init__()
        if spatial_kernel % 2 != 1:
            raise ValueError('ChannelSpatialAttention: `spatial_kernel` must '
                             f'be odd, got {spatial_kernel}')
        if gating not in ('multiply', 'residual'):
            raise ValueError('ChannelSpatialAttention: `gating` must be '
                             f'"multiply" or "residual", got {gating!r}')
        self.residual = gating == 'residual'
        hidden = max(channels // reduction, min(min_hidden, channels))
        self.channel_mlp = nn.Sequential(
            nn.Conv2d(channels, hidden, 1), nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, 1))
        self.spatial_conv = nn.Conv2d(
            2, 1, spatial_kernel, padding=spatial_kernel // 2)

    def forward(self, x: Tensor) -> Tuple[Tensor, Dict[str, Tensor]]:
        """Weight ``x`` by its channel and spatial attention.

        Args:
            x (Tensor): Feature (B, C, h, w).

        Returns:
            tuple[Tensor, dict]: The weighted feature (B, C, h, w) and
            ``dict(channel=Tensor(B, C), spatial=Tensor(B, 1, h, w))``,
            both in (0, 1) (part of the autograd graph; detach to use them
            as guidance only).
        """
        channel = torch.sigmoid(
            self.channel_mlp(x.mean(dim=(2, 3), keepdim=True)) +
            self.channel_mlp(x.amax(dim=(2, 3), keepdim=True)))
        x = x * (1 + channel) if self.residual else x * channel
        spatial = torch.sigmoid(
            self.spatial_conv(
                torch.cat(
                    [x.mean(dim=1, keepdim=True),
                     x.amax(dim=1, keepdim=True)],
                    dim=1)))
        out = x * (1 + spatial) if self.residual else x * spatial
        return out, dict(channel=channel.flatten(1), spatial=spatial)
