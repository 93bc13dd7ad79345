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
from config_shrink import shrink
from projects.aigcmatch.utils import (apply_cfg_options,
                                      sanitize_cfg_for_device)

CONFIGS = osp.join(osp.dirname(__file__), '..', '..', 'configs')


@pytest.fixture(scope='session')
def val_one_patient(tmp_path_factory) -> str:
    """A split file naming one val patient of ``tiny_acdc_root`` (the root
    conftest's tree), so validation takes a second."""
    path = tmp_path_factory.mktemp('splits') / 'val_one_patient.txt'
    path.write_text('patient002\n')  # first patient of the val split
    return str(path)


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
    cfg = shrink(Config.fromfile(osp.join(CONFIGS, config)), max_iters,
                 data_root=root, batch_size=batch_size)
    for name in ('val_dataloader', 'test_dataloader'):
        cfg[name].dataset.split = val_split
    cfg.train_cfg.val_begin = max_iters if validate else max_iters + 1
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
