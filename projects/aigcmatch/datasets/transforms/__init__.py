"""Transforms of 2D medical slices: h5 loading, weak geometry, strong
photometry and multi-view packing (registered in mmseg's TRANSFORMS)."""
from .grayscale_color_jitter import GrayscaleColorJitter
from .load_h5 import LoadH5Annotations, LoadH5Image, read_h5_slice
from .pack_multi_view_inputs import DEFAULT_META_KEYS, PackMultiViewInputs
from .random_gaussian_blur import RandomGaussianBlur
from .random_rot_flip_or_rotate import RandomRotFlipOrRotate

__all__ = [
    'LoadH5Image', 'LoadH5Annotations', 'read_h5_slice',
    'RandomRotFlipOrRotate', 'GrayscaleColorJitter', 'RandomGaussianBlur',
    'PackMultiViewInputs', 'DEFAULT_META_KEYS'
]
