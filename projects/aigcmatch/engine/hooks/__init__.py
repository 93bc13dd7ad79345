"""Training hooks, registered in mmseg's ``HOOKS``.

Cross-cutting ones (exact resume, safe checkpoints, NaN guard):
``configs/_base_/default_runtime.py`` adds them to every config's
``custom_hooks``, and ``configs/_base_/schedules/acdc_30k.py`` makes
``AtomicCheckpointHook`` the checkpoint hook. ``UnsupWeightWarmupHook`` ramps
the unlabeled loss weights in; configs that want it list it themselves.
"""
from .atomic_checkpoint_hook import AtomicCheckpointHook, CheckpointWriteError
from .non_finite_loss_hook import NonFiniteLossHook
from .random_state_hook import (RANDOM_STATES_KEY, RandomStateHook,
                                capture_random_states, restore_random_states)
from .safe_checkpoint_hook import SafeCheckpointHook
from .unsup_weight_warmup_hook import UnsupWeightWarmupHook

__all__ = [
    'RandomStateHook', 'SafeCheckpointHook', 'NonFiniteLossHook',
    'AtomicCheckpointHook', 'CheckpointWriteError',
    'capture_random_states', 'restore_random_states', 'RANDOM_STATES_KEY',
    'UnsupWeightWarmupHook'
]
