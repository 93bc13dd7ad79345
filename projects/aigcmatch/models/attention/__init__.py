"""Attention sources: where the model's evidence is, as the attention-guided
perturbations read it (a spatial map for AttCutMix, per-level channel
weights for AttFeaPerb), computed after the clean pass of a training step."""
from .base_attention_source import (AttentionMaps, BaseAttentionSource,
                                    channel_selectivity)
from .grad_cam_attention import GradCAMAttention
from .head_attention import HeadAttention
from .prediction_attention import PredictionAttention

__all__ = [
    'AttentionMaps', 'BaseAttentionSource', 'channel_selectivity',
    'GradCAMAttention', 'HeadAttention', 'PredictionAttention'
]
