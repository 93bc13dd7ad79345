"""Helpers of the reliability tests: a tiny training config (real datasets,
real model, 32x32 crops, a few iterations), running tools, reading logs."""
import json
import os
import os.path as osp
import subprocess
import sys
from typing import Dict, List, Optional

from config_shrink import shrink
from mmengine.config import Config

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO_CONFIG = osp.join(ROOT, 'configs', 'demo', 'aigcmatch_demo_3case.py')

#: Patients of the tiny tree per split (the synthetic set numbers 1..N).
TINY_SPLITS = dict(
    labeled=['patient001'],
    unlabeled=['patient002', 'patient003'],
    val=['patient004'],
    test=['patient005'])


def write_split(path: str, ids: List[str]) -> str:
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(''.join(f'{i}\n' for i in ids))
    return path


def tiny_config(data: Dict[str, str],
                work_dir: str,
                max_iters: int = 6,
                checkpoint_interval: int = 2,
                val_interval: int = 2,
                seed: int = 0,
                num_workers: int = 0,
                extra_custom_imports: Optional[List[str]] = None,
                extra_hooks: Optional[List[dict]] = None) -> Config:
    """The demo AIGCMatch config shrunk to seconds on a CPU: 32x32 crops,
    batch 2, a UNet with channels 4..64, the tiny tree's splits, loss logged
    every iteration without smoothing."""
    cfg = shrink(Config.fromfile(DEMO_CONFIG), max_iters,
                 val_interval=val_interval,
                 checkpoint_interval=checkpoint_interval)
    loaders = dict(
        train_dataloader=('labeled', 'labeled'),
        unlabeled_dataloader=('unlabeled', 'unlabeled'),
        val_dataloader=('val', 'volume'),
        test_dataloader=('test', 'volume'))
    for key, (split, mode) in loaders.items():
        loader = cfg[key]
        loader.num_workers = num_workers
        loader.persistent_workers = num_workers > 0
        loader.dataset.data_root = data['root']
        loader.dataset.split = data[split]
        loader.dataset.mode = mode
    cfg.unlabeled_dataloader.dataset.disjoint_with = [
        data['labeled'], data['val'], data['test']
    ]
    channels = (4, 8, 16, 32, 64)
    cfg.model.backbone.channels = channels
    cfg.model.decode_head.in_channels = list(channels)
    cfg.model.decode_head.channels = 4
    cfg.default_hooks.checkpoint.max_keep_ckpts = 2
    cfg.log_processor = dict(by_epoch=False, window_size=1)
    cfg.randomness = dict(seed=seed, deterministic=True)
    cfg.work_dir = work_dir
    cfg.data_root = data['root']
    if extra_custom_imports:
        cfg.custom_imports.imports = (
            list(cfg.custom_imports.imports) + list(extra_custom_imports))
    if extra_hooks:
        cfg.custom_hooks = list(cfg.custom_hooks) + list(extra_hooks)
    return cfg


def write_config(cfg: Config, path: str) -> str:
    cfg.dump(path)
    return path


def run_tool(*args: str,
             env: Optional[dict] = None,
             cwd: str = ROOT,
             timeout: int = 240) -> subprocess.CompletedProcess:
    """Run a tool (from the repository root by default), one thread per
    process."""
    full_env = dict(os.environ, OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    full_env['PYTHONPATH'] = os.pathsep.join(
        p for p in (ROOT, osp.dirname(osp.abspath(__file__)),
                    os.environ.get('PYTHONPATH')) if p)
    full_env.pop('AIGCMATCH_DEBUG', None)
    full_env.update(env or {})
    return subprocess.run([sys.executable, *args] if args[0].endswith('.py')
                          else list(args),
                          cwd=cwd,
                          capture_output=True,
                          text=True,
                          env=full_env,
                          timeout=timeout)


def read_scalars(run_dir: str) -> Dict[int, dict]:
    """``vis_data/scalars.json`` of one run folder, training lines by
    iteration."""
    rows = {}
    with open(osp.join(run_dir, 'vis_data', 'scalars.json')) as f:
        for line in f:
            row = json.loads(line)
            if 'loss' in row:
                rows[row['step']] = row
    return rows


def run_dirs(work_dir: str) -> List[str]:
    """Timestamped run folders of a work dir, oldest first."""
    return sorted(
        osp.join(work_dir, d) for d in os.listdir(work_dir)
        if osp.isdir(osp.join(work_dir, d, 'vis_data')))


def write_h5(path: str, **arrays) -> str:
    """Write arrays into a fresh h5 file (for broken files)."""
    import h5py
    os.makedirs(osp.dirname(path), exist_ok=True)
    with h5py.File(path, 'w') as f:
        for key, value in arrays.items():
            f.create_dataset(key, data=value)
    return path
