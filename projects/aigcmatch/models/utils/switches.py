"""Two switches a training step uses on its network."""
from contextlib import contextmanager

import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.conv import _ConvNd


@contextmanager
def frozen_bn_stats(module: nn.Module, enabled: bool = True):
    """BN layers of ``module`` normalise with each batch's own statistics
    but leave the running ones (used at test time) alone while the ``with``
    block runs (``track_running_stats`` off, then restored)."""
    if not enabled:
        yield
        return
    norms = [
        m for m in module.modules()
        if isinstance(m, _BatchNorm) and m.track_running_stats
    ]
    for m in norms:
        m.track_running_stats = False
    try:
        yield
    finally:
        for m in norms:
            m.track_running_stats = True


def reset_conv_weights(module: nn.Module) -> None:
    """PyTorch's default initialisation for every convolution of
    ``module`` (Kaiming-uniform with ``a=sqrt(5)``, fan-in; bias uniform),
    unless the module loads pretrained weights (``init_cfg`` Pretrained)."""
    init_cfg = getattr(module, 'init_cfg', None) or {}
    if isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained':
        return
    for m in module.modules():
        if isinstance(m, _ConvNd):
            m.reset_parameters()
