"""Tiny standalone configs for end-to-end tool tests."""
import os
import os.path as osp
import re

from config_shrink import shrink
from mmengine.config import Config

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def write_tiny_config(config: str, data_root: str, out_dir: str,
                      max_iters: int = 4, interval: int = 2,
                      batch_size: int = 2) -> str:
    """A standalone copy of ``config`` that trains in seconds on the tiny
    tree: crop 32, batch 2, ``max_iters`` iterations, validation and a
    checkpoint every ``interval`` iterations."""
    cfg = shrink(Config.fromfile(osp.join(ROOT, config)), max_iters,
                 data_root=data_root, batch_size=batch_size,
                 val_interval=interval, checkpoint_interval=interval)
    name = re.sub(r'\W', '_', osp.splitext(osp.basename(config))[0])
    path = osp.join(out_dir, f'tiny_{name}.py')
    os.makedirs(out_dir, exist_ok=True)
    cfg.dump(path)
    return path
