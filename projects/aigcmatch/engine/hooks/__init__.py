"""Cross-cutting training hooks: exact resume, safe checkpoints, NaN guard.

Registered in mmseg's ``HOOKS``; ``configs/_base_/default_runtime.py`` adds
them to every config's ``custom_hooks``.
"""
from .non_finite_loss_hook import NonFiniteLossHook
from .random_state_hook import (RANDOM_STATES_KEY, RandomStateHook,
                                capture_random_states, restore_random_states)
from .safe_checkpoint_hook import SafeCheckpointHook

__all__ = [
    'RandomStateHook', 'SafeCheckpointHook', 'NonFiniteLossHook',
    'capture_random_states', 'restore_random_states', 'RANDOM_STATES_KEY'
]
