"""Training-loop machinery: the semi-supervised loop, its sampler, the
reliability hooks (exact resume, safe checkpoints, NaN guard) and the
unlabeled-loss warm-up hook."""
from .cpu_autocast_optim_wrapper import CPUAutocastOptimWrapper
from .hooks import (AtomicCheckpointHook, NonFiniteLossHook, RandomStateHook,
                    SafeCheckpointHook, UnsupWeightWarmupHook)
from .runner import AIGCMatchRunner, AIGCMatchTestLoop
from .resumable_infinite_sampler import ResumableInfiniteSampler, SeededIndex
from .semi_supervised_iter_loop import SemiSupervisedIterLoop

__all__ = [
    'SemiSupervisedIterLoop', 'ResumableInfiniteSampler', 'SeededIndex',
    'RandomStateHook', 'SafeCheckpointHook', 'NonFiniteLossHook',
    'UnsupWeightWarmupHook', 'CPUAutocastOptimWrapper', 'AtomicCheckpointHook',
    'AIGCMatchRunner', 'AIGCMatchTestLoop'
]
