"""Model-level helpers that are not the algorithm: memory format, compiled
forms and batch slicing of a training step, BN and weight switches."""
from .fast_step import FastStepMixin, batch_tail
from .switches import frozen_bn_stats, reset_conv_weights

__all__ = [
    'FastStepMixin', 'batch_tail', 'frozen_bn_stats', 'reset_conv_weights'
]
