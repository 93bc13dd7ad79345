"""Distributed runs on GPUs (NCCL) and on plain CPUs (gloo).

mmengine assumes CUDA when launched by torchrun: its ``init_dist`` calls
``torch.cuda.set_device`` and its runner hands DDP ``device_ids``; both fail on
a CPU-only machine. We initialise the process group ourselves (mmengine then
skips its own init), wrap the model with a DDP that drops ``device_ids`` for
CPU modules, turn SyncBN (GPU-only) into BN on CPU, and tear the group down at
exit so shutdown does not race.
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


def sanitize_cfg_for_device(cfg) -> list:
    """Make a config runnable on this machine; returns what was changed.

    On CPU: ``SyncBN`` norm layers become ``BN`` (SyncBN needs CUDA), the
    ``sync_bn`` conversion is dropped, the dist backend becomes gloo,
    dataloaders stop pinning memory, and mmengine's ``AmpOptimWrapper``
    (CUDA only: it asserts) becomes ``CPUAutocastOptimWrapper`` (bfloat16
    autocast) on a CPU with bfloat16 kernels, else a float32
    ``OptimWrapper``.
    """
    changes = []
    if cuda_usable():
        return changes

    def visit(node, path):
        if isinstance(node, dict):
            if node.get('type') == 'SyncBN':
                node['type'] = 'BN'
                changes.append(f'{path}.type: SyncBN -> BN (no CUDA)')
            for key, value in node.items():
                visit(value, f'{path}.{key}' if path else str(key))
        elif isinstance(node, (list, tuple)):
            for i, value in enumerate(node):
                visit(value, f'{path}[{i}]')

    visit(cfg.get('model', {}), 'model')
    from ..utils.config import dataloader_configs
    for name, loader in dataloader_configs(cfg):
        if isinstance(loader, dict) and loader.get('pin_memory'):
            loader['pin_memory'] = False  # page-locking needs CUDA
            changes.append(f'{name}.pin_memory: True -> False (no CUDA)')
    optim_wrapper = cfg.get('optim_wrapper')
    if isinstance(optim_wrapper, dict) and optim_wrapper.get(
            'type') == 'AmpOptimWrapper':
        for key in ('dtype', 'loss_scale', 'use_fsdp'):
            optim_wrapper.pop(key, None)
        if cpu_bf16_supported():
            optim_wrapper['type'] = 'CPUAutocastOptimWrapper'
            changes.append('optim_wrapper.type: AmpOptimWrapper -> '
                           'CPUAutocastOptimWrapper (no CUDA: bfloat16 '
                           'autocast on the CPU)')
        else:
            optim_wrapper['type'] = 'OptimWrapper'
            changes.append('optim_wrapper.type: AmpOptimWrapper -> '
                           'OptimWrapper (no CUDA, and this CPU has no '
                           'bfloat16 kernels: training in float32)')
    if cfg.get('sync_bn') is not None:
        cfg.sync_bn = None
        changes.append('sync_bn: dropped (no CUDA)')
    dist_cfg = cfg.get('env_cfg', {}).get('dist_cfg')
    if dist_cfg is not None and dist_cfg.get('backend') not in (None, 'gloo'):
        changes.append(f"env_cfg.dist_cfg.backend: {dist_cfg['backend']} -> "
                       'gloo (no CUDA)')
        dist_cfg['backend'] = 'gloo'
    return changes


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
