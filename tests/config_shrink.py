"""The tests' one config shrinker: a real config made to train in seconds.

Every test that trains a real config (runner tests, reliability tests, the
tool tests) starts from :func:`shrink`, then adds what it checks. Importable
from every test folder: pytest puts ``tests/`` on ``sys.path`` for the root
conftest.
"""
from typing import Optional

from mmengine.config import Config

from projects.aigcmatch.engine.runner import TRAIN_LOADERS
from projects.aigcmatch.utils import apply_cfg_options
from projects.aigcmatch.utils.config import DATALOADER_KEYS

#: The crop of every shrunk config (width = height).
CROP = 32


def set_resize_scale(node, scale) -> None:
    """Point every ``Resize`` below ``node`` (pipelines, TTA) at ``scale``
    (w, h)."""
    if isinstance(node, dict):
        if node.get('type') == 'Resize':
            node['scale'] = scale
        for value in node.values():
            set_resize_scale(value, scale)
    elif isinstance(node, (list, tuple)):
        for value in node:
            set_resize_scale(value, scale)


def shrink(cfg: Config,
           max_iters: int,
           data_root: Optional[str] = None,
           batch_size: int = 2,
           val_interval: Optional[int] = None,
           checkpoint_interval: Optional[int] = None) -> Config:
    """Shrink ``cfg`` in place and return it.

    ``CROP`` x ``CROP`` Resize everywhere; no loader worker processes; batch
    ``batch_size`` in every training loader; ``max_iters`` iterations with
    the learning-rate schedule ending there; validation and checkpoints
    every ``val_interval`` / ``checkpoint_interval`` iterations (default:
    at the end); the loss logged every iteration. ``data_root`` re-points
    every dataset as ``--cfg-options data_root=...`` does.
    """
    if data_root is not None:
        apply_cfg_options(cfg, {'data_root': data_root})
    set_resize_scale(cfg._cfg_dict, (CROP, CROP))
    for name in DATALOADER_KEYS:
        if cfg.get(name) is None:
            continue
        cfg[name].num_workers = 0
        cfg[name].persistent_workers = False
        if name in TRAIN_LOADERS:
            cfg[name].batch_size = batch_size
    cfg.train_cfg.max_iters = max_iters
    cfg.train_cfg.val_interval = val_interval or max_iters
    for scheduler in cfg.param_scheduler:
        scheduler.end = max_iters
    cfg.default_hooks.checkpoint.interval = checkpoint_interval or max_iters
    cfg.default_hooks.logger.interval = 1
    return cfg
