"""Feed 1-channel slices to a backbone whose stem takes 3 channels."""
from typing import Optional, Sequence

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from torch import Tensor

from mmseg.registry import MODELS
from mmseg.utils import ConfigType

ADAPTER_MODES = ('repeat', 'conv')


@MODELS.register_module()
class ChannelAdapter(BaseModule):
    """Any mmseg backbone on images with another number of channels.

    ImageNet backbones have a 3-channel stem: mmseg's ``MobileNetV2`` cannot
    be told otherwise, and a ``ResNetV1c`` with ``in_channels=1`` can no
    longer load ImageNet weights. This wrapper turns the model's
    ``in_channels`` images (1 for MRI/CT slices) into the
    ``out_channels`` the stem takes, then runs the backbone; everything
    else (CutMix, attention, losses) still sees the 1-channel images.

    * ``mode='repeat'``: each input channel is copied ``out / in`` times, so
      a pretrained stem sees a gray RGB image. No parameters.
    * ``mode='conv'``: a learned 1x1 convolution, initialised to the repeat.

    ``mean``/``std`` then normalise each stem channel, e.g. ImageNet's
    statistics of [0, 1] images ``mean=(0.485, 0.456, 0.406)``,
    ``std=(0.229, 0.224, 0.225)`` for a pretrained stem (the slices of the
    layout are min-max normalised to [0, 1]).

    Example:
        >>> backbone = dict(
        ...     type='ChannelAdapter', in_channels=1, out_channels=3,
        ...     backbone=dict(type='MobileNetV2', out_indices=(1, 2, 4, 6)))

    Args:
        backbone (dict): Config of the wrapped backbone; its ``init_cfg``
            (e.g. ``Pretrained``) applies to it as usual.
        in_channels (int): Channels of the images given. Defaults to 1.
        out_channels (int): Channels the backbone's stem takes. Defaults to 3.
        mode (str): ``'repeat'`` or ``'conv'``. Defaults to 'repeat'.
        mean (Sequence[float], optional): Per stem channel, subtracted.
        std (Sequence[float], optional): Per stem channel, divided by.
        init_cfg (dict, optional): Of the wrapper itself. Defaults to None.
    """

    def __init__(self,
                 backbone: ConfigType,
                 in_channels: int = 1,
                 out_channels: int = 3,
                 mode: str = 'repeat',
                 mean: Optional[Sequence[float]] = None,
                 std: Optional[Sequence[float]] = None,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg)
        if mode not in ADAPTER_MODES:
            raise ValueError(f'ChannelAdapter: mode must be one of '
                             f'{ADAPTER_MODES}, got {mode!r}')
        if in_channels < 1 or out_channels < 1:
            raise ValueError('ChannelAdapter: in_channels and out_channels '
                             f'must be >= 1, got {in_channels} and '
                             f'{out_channels}')
        if mode == 'repeat' and out_channels % in_channels:
            raise ValueError(
                f"ChannelAdapter(mode='repeat'): out_channels {out_channels} "
                f'is not a multiple of in_channels {in_channels}; use '
                "mode='conv'")
        for name, values in (('mean', mean), ('std', std)):
            if values is not None and len(values) != out_channels:
                raise ValueError(
                    f'ChannelAdapter: {name} needs one value per stem channel '
                    f'({out_channels}), got {list(values)}')
        if std is not None and any(v <= 0 for v in std):
            raise ValueError(f'ChannelAdapter: std must be > 0, got '
                             f'{list(std)}')
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.mode = mode
        self.backbone = MODELS.build(backbone)
        self.adapter = None
        if mode == 'conv':
            # a plain Conv2d (no init_weights): mmengine's initialisation of
            # the model leaves it as set here, the repeat
            self.adapter = nn.Conv2d(in_channels, out_channels, 1)
            with torch.no_grad():
                # stem channel c reads input channel c % in
                self.adapter.weight.zero_()
                for c in range(out_channels):
                    self.adapter.weight[c, c % in_channels] = 1.0
                self.adapter.bias.zero_()
        # buffers not saved: they come from the config, and a checkpoint of
        # the plain backbone keeps loading into the wrapped one
        self.register_buffer(
            'mean',
            None if mean is None else torch.tensor(mean).view(1, -1, 1, 1),
            persistent=False)
        self.register_buffer(
            'std',
            None if std is None else torch.tensor(std).view(1, -1, 1, 1),
            persistent=False)

    def forward(self, x: Tensor):
        """Adapt the channels, then run the backbone.

        Args:
            x (Tensor): (B, in_channels, H, W).

        Returns:
            The backbone's outputs.
        """
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f'ChannelAdapter: expected images (B, {self.in_channels}, H, '
                f'W), got {tuple(x.shape)}')
        if self.adapter is not None:
            x = self.adapter(x)
        elif self.out_channels != self.in_channels:
            x = x.repeat(1, self.out_channels // self.in_channels, 1, 1)
        if self.mean is not None:
            x = x - self.mean.to(x.dtype)
        if self.std is not None:
            x = x / self.std.to(x.dtype)
        return self.backbone(x)
