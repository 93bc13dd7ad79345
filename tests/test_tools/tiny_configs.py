"""Tiny standalone configs for end-to-end tool tests."""
import os
import os.path as osp
import re

from mmengine.config import Config

from projects.aigcmatch.utils import apply_cfg_options

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CROP = 32


def _shrink(node):
    """Every Resize to CROP x CROP, every loader light."""
    if isinstance(node, dict):
        if node.get('type') == 'Resize':
            node['scale'] = (CROP, CROP)
        if 'num_workers' in node:
            node['num_workers'] = 0
            node['persistent_workers'] = False
        for value in node.values():
            _shrink(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            _shrink(value)


def write_tiny_config(config: str, data_root: str, out_dir: str,
                      max_iters: int = 4, interval: int = 2,
                      batch_size: int = 2) -> str:
    """A standalone copy of ``config`` that trains in seconds on the tiny
    tree: crop 32, batch 2, ``max_iters`` iterations, validation and a
    checkpoint every ``interval`` iterations."""
    cfg = Config.fromfile(osp.join(ROOT, config))
    apply_cfg_options(cfg, {'data_root': data_root})
    _shrink(cfg._cfg_dict)
    for name in ('train_dataloader', 'unlabeled_dataloader'):
        if name in cfg:
            cfg[name].batch_size = batch_size
    cfg.train_cfg.max_iters = max_iters
    cfg.train_cfg.val_interval = interval
    cfg.param_scheduler = [
        dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_iters,
             by_epoch=False)
    ]
    cfg.default_hooks.checkpoint.interval = interval
    cfg.default_hooks.logger.interval = 1
    name = re.sub(r'\W', '_', osp.splitext(osp.basename(config))[0])
    path = osp.join(out_dir, f'tiny_{name}.py')
    os.makedirs(out_dir, exist_ok=True)
    cfg.dump(path)
    return path
