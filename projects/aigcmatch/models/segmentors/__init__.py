from .weak_to_strong_segmentor import WeakToStrongSegmentor

__all__ = ['WeakToStrongSegmentor']
