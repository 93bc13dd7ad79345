"""Training-loop machinery: the semi-supervised loop and its sampler."""
from .resumable_infinite_sampler import ResumableInfiniteSampler
from .semi_supervised_iter_loop import SemiSupervisedIterLoop

__all__ = ['SemiSupervisedIterLoop', 'ResumableInfiniteSampler']
