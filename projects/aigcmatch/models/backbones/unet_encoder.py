"""The UNet encoder of UniMatch's medical (ACDC) model."""
from typing import Optional, Sequence, Tuple

import torch.nn as nn
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor

from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptMultiConfig


@MODELS.register_module()
class UNetEncoder(BaseModule):
    """UNet encoder returning every level, full resolution first.

    Level ``i`` is the block ``conv3x3-BN-act-Dropout(p_i)-conv3x3-BN-act``;
    levels are separated by a 2x2 max pool, so level ``i`` has stride
    ``2**i``. With the defaults this is the encoder of UniMatch's ACDC UNet
    (16/32/64/128/256 channels, dropout 0.05/0.1/0.2/0.3/0.5).

    Inputs whose height and width are not divisible by ``2**(levels-1)``
    still work: max pooling floors, and :class:`AttUNetHead` resizes its
    upsampled features to the skip size.

    Args:
        in_channels (int): Channels of the input image. Defaults to 1.
        channels (Sequence[int]): Output channels of each level.
            Defaults to (16, 32, 64, 128, 256).
        dropout (Sequence[float]): Element-wise dropout probability inside
            each level's block; same length as ``channels``.
            Defaults to (0.05, 0.1, 0.2, 0.3, 0.5).
        norm_cfg (dict): Norm layer config. Defaults to ``dict(type='BN')``.
        act_cfg (dict): Activation config.
            Defaults to ``dict(type='LeakyReLU', negative_slope=0.01)``.
        init_cfg (dict | list[dict], optional): Initialisation config.
            Defaults to None (``ConvModule``'s Kaiming init for the
            convolutions, constant 1 for the norms).
    """

    def __init__(self,
                 in_channels: int = 1,
                 channels: Sequence[int] = (16, 32, 64, 128, 256),
                 dropout: Sequence[float] = (0.05, 0.1, 0.2, 0.3, 0.5),
                 norm_cfg: ConfigType = dict(type='BN'),
                 act_cfg: ConfigType = dict(
                     type='LeakyReLU', negative_slope=0.01),
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        channels = tuple(channels)
        dropout = tuple(dropout)
        if len(channels) == 0 or len(dropout) != len(channels):
            raise ValueError(
                'UNetEncoder: `dropout` must give one probability per level '
                f'of `channels`, got channels={channels} (len '
                f'{len(channels)}) and dropout={dropout} (len {len(dropout)})')
        bad_p = [p for p in dropout if not 0.0 <= p < 1.0]
        if bad_p:
            raise ValueError('UNetEncoder: every `dropout` value must be in '
                             f'[0, 1), got {dropout}')
        self.in_channels = in_channels
        self.channels = channels
        self.dropout = dropout

        self.pool = nn.MaxPool2d(kernel_size=2, stride=2)
        self.levels = nn.ModuleList()
        prev = in_channels
        for out, p in zip(channels, dropout):
            self.levels.append(
                nn.Sequential(
                    ConvModule(
                        prev,
                        out,
                        3,
                        padding=1,
                        norm_cfg=norm_cfg,
                        act_cfg=act_cfg), nn.Dropout(p),
                    ConvModule(
                        out,
                        out,
                        3,
                        padding=1,
                        norm_cfg=norm_cfg,
                        act_cfg=act_cfg)))
            prev = out

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Encode an image batch.

        Args:
            x (Tensor): Images (B, in_channels, H, W).

        Returns:
            tuple[Tensor]: One feature map per level, level ``i`` of shape
            (B, channels[i], H / 2**i, W / 2**i) (floored).
        """
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f'UNetEncoder expects inputs (B, {self.in_channels}, H, W), '
                f'got shape {tuple(x.shape)}')
        outs = []
        for i, level in enumerate(self.levels):
            if i > 0:
                x = self.pool(x)
            x = level(x)
            outs.append(x)
        return tuple(outs)
