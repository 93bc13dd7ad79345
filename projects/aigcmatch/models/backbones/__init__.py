"""Backbones (encoders) returning multi-level feature maps."""
from .unet_encoder import UNetEncoder

__all__ = ['UNetEncoder']
