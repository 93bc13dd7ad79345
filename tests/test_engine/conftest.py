"""Real configs shrunk to train in seconds on the tiny synthetic ACDC tree
(``tiny_acdc_root``, from the root conftest).

Runner configs are the real ones with: 32x32 Resize everywhere, batch 2, no
worker processes, a few iterations, and validation/test on one val patient.
"""
import os.path as osp
import uuid
from typing import Callable, Optional

import pytest
from mmengine.config import Config

import projects.aigcmatch  # noqa: F401  (compat first, then registration)
from projects.aigcmatch.engine.runner import TRAIN_LOADERS
from projects.aigcmatch.utils import (apply_cfg_options,
                                      sanitize_cfg_for_device)
from projects.aigcmatch.utils.config import DATALOADER_KEYS

CONFIGS = osp.join(osp.dirname(__file__), '..', '..', 'configs')
SIZE = 32


@pytest.fixture(scope='session')
def val_one_patient(tmp_path_factory) -> str:
    """A split file naming one val patient of ``tiny_acdc_root`` (the root
    conftest's tree), so validation takes a second."""
    path = tmp_path_factory.mktemp('splits') / 'val_one_patient.txt'
    path.write_text('patient002\n')  # first patient of the val split
    return str(path)


def set_resize_scale(node, scale) -> None:
    """Point every ``Resize`` of every pipeline at ``scale`` (w, h)."""
    if isinstance(node, dict):
        if node.get('type') == 'Resize':
            node['scale'] = scale
        for value in node.values():
            set_resize_scale(value, scale)
    elif isinstance(node, (list, tuple)):
        for value in node:
            set_resize_scale(value, scale)


def shrink_config(config: str,
                  root: str,
                  val_split: str,
                  work_dir: str,
                  max_iters: int = 2,
                  validate: bool = True,
                  batch_size: int = 2,
                  options: Optional[dict] = None) -> Config:
    """A real config (path relative to ``configs/``), made tiny.

    Args:
        config (str): e.g. ``'aigcmatch_acdc_3case.py'``.
        root (str): data_root of the tiny tree.
        val_split (str): Split file for val and test.
        work_dir (str): Work dir of the run.
        max_iters (int): Training iterations; also the checkpoint interval.
        validate (bool): Validate once at the end (else never).
        batch_size (int): Batch size of every training loader.
        options (dict, optional): ``--cfg-options``-style overrides applied
            last (checked keys, as the tools do).

    Returns:
        Config: Ready for ``Runner.from_cfg``.
    """
    cfg = Config.fromfile(osp.join(CONFIGS, config))
    apply_cfg_options(cfg, {'data_root': root})
    set_resize_scale(cfg._cfg_dict, (SIZE, SIZE))
    for name in DATALOADER_KEYS:
        if cfg.get(name) is None:
            continue
        cfg[name].num_workers = 0
        cfg[name].persistent_workers = False
        if name in TRAIN_LOADERS:
            cfg[name].batch_size = batch_size
    for name in ('val_dataloader', 'test_dataloader'):
        cfg[name].dataset.split = val_split
    cfg.train_cfg.max_iters = max_iters
    cfg.train_cfg.val_interval = max_iters
    cfg.train_cfg.val_begin = max_iters if validate else max_iters + 1
    for scheduler in cfg.param_scheduler:
        scheduler.end = max_iters
    cfg.default_hooks.checkpoint.interval = max_iters
    cfg.default_hooks.logger.interval = 1
    # Unique names: mmengine keeps one message hub / visualizer per name,
    # and runs in one process would otherwise share them.
    name = f'{osp.splitext(osp.basename(config))[0]}_{uuid.uuid4().hex[:8]}'
    cfg.experiment_name = name
    cfg.visualizer.name = name
    cfg.work_dir = work_dir
    sanitize_cfg_for_device(cfg)
    if options:
        apply_cfg_options(cfg, options)
    return cfg


@pytest.fixture
def tiny_cfg(tiny_acdc_root, val_one_patient,
             tmp_path) -> Callable[..., Config]:
    """``tiny_cfg(config, work_dir=None, **kwargs)``: see
    :func:`shrink_config`; the work dir defaults to a fresh tmp folder."""
    counter = iter(range(1000))

    def make(config: str, work_dir: Optional[str] = None, **kwargs) -> Config:
        if work_dir is None:
            work_dir = str(tmp_path / f'work_{next(counter)}')
        return shrink_config(config, tiny_acdc_root, val_one_patient,
                             work_dir, **kwargs)

    return make
