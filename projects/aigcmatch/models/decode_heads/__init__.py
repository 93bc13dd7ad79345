"""Decode heads: the attention-aware UNet decoder."""
from .att_unet_head import AttUNetHead
from .channel_spatial_attention import ChannelSpatialAttention

__all__ = ['AttUNetHead', 'ChannelSpatialAttention']
