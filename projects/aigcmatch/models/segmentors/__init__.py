from .confidence_threshold import ClassAdaptiveThreshold, FixedThreshold
from .weak_to_strong_segmentor import WeakToStrongSegmentor

__all__ = [
    'WeakToStrongSegmentor', 'ClassAdaptiveThreshold', 'FixedThreshold'
]
