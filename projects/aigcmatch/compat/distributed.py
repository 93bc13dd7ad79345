"""Distributed runs on GPUs (NCCL) and on plain CPUs (gloo).

mmengine assumes CUDA when launched by torchrun: its ``init_dist`` calls
``torch.cuda.set_device`` and its runner hands DDP ``device_ids``; both fail on
a CPU-only machine. We initialise the process group ourselves (mmengine then
skips its own init), wrap the model with a DDP that drops ``device_ids`` for
CPU modules, and tear the group down at exit so shutdown does not race. (The
config rewrite for a CPU-only machine, SyncBN to BN and the like, is
``projects.aigcmatch.utils.device_config``.)
"""
import os
from typing import Optional

import torch
import torch.distributed as dist
from mmengine.model import MMDistributedDataParallel
from mmengine.registry import MODEL_WRAPPERS


def cuda_usable() -> bool:
    return torch.cuda.is_available() and torch.cuda.device_count() > 0


def cpu_bf16_supported() -> bool:
    """Whether this CPU has native bfloat16 kernels (AVX512-BF16 or AMX).

    Without them oneDNN emulates bfloat16 and autocast is slower than
    float32, so the tools fall back to float32 there.
    """
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def amp_dtype() -> str:
    """Mixed-precision dtype for this machine: ``'bfloat16'`` on a GPU that
    supports it (Ampere and later), else ``'float16'``."""
    if cuda_usable() and torch.cuda.is_bf16_supported():
        return 'bfloat16'
    return 'float16'


def init_distributed(launcher: str, backend: Optional[str] = None) -> None:
    """Initialise ``torch.distributed`` for ``launcher='pytorch'`` (torchrun).

    NCCL with one GPU per local rank when CUDA is usable, otherwise gloo on
    CPU. A no-op for ``launcher='none'`` or if a group already exists.
    """
    if launcher == 'none' or dist.is_initialized():
        return
    if launcher != 'pytorch':
        raise ValueError(f'launcher "{launcher}" is not supported by '
                         'aigcmatch tools; use "none" or "pytorch"')
    for key in ('RANK', 'LOCAL_RANK', 'WORLD_SIZE', 'MASTER_ADDR',
                'MASTER_PORT'):
        if key not in os.environ:
            raise RuntimeError(
                f'--launcher pytorch needs the environment variable {key}, '
                'which torchrun sets: start the run with tools/dist_train.sh '
                'or torchrun, not plain python')
    if cuda_usable():
        torch.cuda.set_device(int(os.environ['LOCAL_RANK']))
        backend = backend or 'nccl'
    else:
        backend = 'gloo'
    dist.init_process_group(backend=backend)


def cleanup_distributed(barrier: bool = True) -> None:
    """Destroy the process group, if one exists, after an optional barrier.

    Without it, processes that finish at different times race the gloo/NCCL
    teardown and runs flake at shutdown.
    """
    if dist.is_available() and dist.is_initialized():
        try:
            if barrier:
                dist.barrier()
        finally:
            dist.destroy_process_group()


@MODEL_WRAPPERS.register_module()
class DeviceAwareDistributedDataParallel(MMDistributedDataParallel):
    """mmengine's DDP wrapper that also wraps CPU modules.

    mmengine passes ``device_ids=[LOCAL_RANK]``, which DDP rejects for a module
    on the CPU; for such modules the ids are dropped (DDP's CPU mode).
    """

    def __init__(self, module, device_ids=None, **kwargs):
        param = next(module.parameters(), None)
        if param is not None and param.device.type == 'cpu':
            device_ids = None
            kwargs.pop('output_device', None)
        super().__init__(module=module, device_ids=device_ids, **kwargs)
