"""A config made runnable on this machine: CUDA-only settings rewritten for a
CPU-only one (SyncBN, pinned memory, mmengine's CUDA AMP wrapper, NCCL)."""
from ..compat.distributed import cpu_bf16_supported, cuda_usable
from .config import dataloader_configs


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
