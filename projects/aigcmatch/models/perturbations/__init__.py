"""Image- and feature-level perturbations the segmentor calls at its two hook
points (after pseudo-labelling; between encoder and decoder)."""
from .att_cutmix import AttCutMix, box_means, spatial_attention_map
from .att_fea_perb import AttFeaPerb, drop_channels
from .base_cutmix import BaseCutMix, shift_maps
from .random_cutmix import RandomCutMix
from .random_fea_perb import RandomFeaPerb

__all__ = [
    'AttCutMix', 'RandomCutMix', 'BaseCutMix', 'AttFeaPerb', 'RandomFeaPerb',
    'spatial_attention_map', 'box_means', 'drop_channels', 'shift_maps'
]
