"""Glue that lets the pinned OpenMMLab stack run on every machine we support.

Three concerns, one small module each:

* :mod:`.mmcv_ext` — a guarded stand-in for mmcv's compiled ``mmcv._ext`` when
  only ``mmcv-lite`` is installed (``mmseg.models`` imports ``mmcv.ops``).
* :mod:`.checkpoint` — the exact types mmengine pickles into checkpoints,
  allow-listed for ``torch.load(weights_only=True)`` (torch >= 2.6).
* :mod:`.distributed` — CPU (gloo) distributed runs: no ``cuda.set_device``,
  no DDP ``device_ids`` for CPU modules, clean shutdown.

Importing this package applies the first two; they must happen before
``mmseg.models`` is imported or a checkpoint is loaded.
"""
from .checkpoint import (UNSAFE_CHECKPOINT_HINT, UnreadableCheckpointError,
                         allow_mmengine_checkpoint_types, safe_load_checkpoint)
from .distributed import (DeviceAwareDistributedDataParallel, amp_dtype,
                          cleanup_distributed, cpu_bf16_supported,
                          init_distributed)
from .mmcv_ext import MissingCompiledOpError, install_mmcv_ext_standin

install_mmcv_ext_standin()
allow_mmengine_checkpoint_types()

__all__ = [
    'MissingCompiledOpError', 'install_mmcv_ext_standin',
    'allow_mmengine_checkpoint_types', 'safe_load_checkpoint',
    'UnreadableCheckpointError',
    'UNSAFE_CHECKPOINT_HINT', 'DeviceAwareDistributedDataParallel',
    'init_distributed', 'cleanup_distributed', 'amp_dtype',
    'cpu_bf16_supported'
]
