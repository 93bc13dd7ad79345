"""Backbones (encoders) returning multi-level feature maps, and an adapter
that feeds 1-channel slices to 3-channel (ImageNet) backbones."""
from .channel_adapter import ChannelAdapter
from .unet_encoder import UNetEncoder

__all__ = ['UNetEncoder', 'ChannelAdapter']
