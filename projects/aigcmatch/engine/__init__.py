"""Training-loop machinery: the semi-supervised loop, its sampler and the
reliability hooks (exact resume, safe checkpoints, NaN guard)."""
from .cpu_autocast_optim_wrapper import CPUAutocastOptimWrapper
from .hooks import (AtomicCheckpointHook, NonFiniteLossHook, RandomStateHook,
                    SafeCheckpointHook)
from .runner import AIGCMatchRunner, AIGCMatchTestLoop
from .resumable_infinite_sampler import ResumableInfiniteSampler, SeededIndex
from .semi_supervised_iter_loop import SemiSupervisedIterLoop
from .unsup_weight_warmup_hook import UnsupWeightWarmupHook

__all__ = [
    'SemiSupervisedIterLoop', 'ResumableInfiniteSampler', 'SeededIndex',
    'RandomStateHook', 'SafeCheckpointHook', 'NonFiniteLossHook',
    'UnsupWeightWarmupHook', 'CPUAutocastOptimWrapper', 'AtomicCheckpointHook',
    'AIGCMatchRunner', 'AIGCMatchTestLoop'
]
