"""Time the training data pipeline alone: h5 slices through the config's
labeled and unlabeled (weak + 2 strong views) pipelines, per worker count.

Writes a small synthetic ACDC-like set (``make_synthetic_acdc``) into a
temporary folder at the config's crop size, builds the config's labeled and
unlabeled datasets on it (a split file naming every generated patient), and
for each worker count runs a ``DataLoader`` like the runner's (batch size of
the config, ``pseudo_collate``, persistent workers, pinned memory when CUDA
is there), timing the first batch (worker start-up) apart from the rest.

Usage::

    python benchmarks/data_pipeline.py --workers 0 1 2 4 [--batches 20]
"""
import argparse
import copy
import json
import os
import os.path as osp
import sys
import tempfile
import time
from typing import Dict, List, Optional, Sequence

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import torch  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.dataset import pseudo_collate  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402

import projects.aigcmatch  # noqa: E402,F401  (compat first, registration)
from mmseg.registry import DATASETS  # noqa: E402
from projects.aigcmatch.datasets.synthetic import \
    make_synthetic_acdc  # noqa: E402

BRANCHES = (('labeled', 'train_dataloader'), ('unlabeled',
                                              'unlabeled_dataloader'))


def write_demo_set(root: str, num_patients: int, size: int) -> str:
    """Synthetic slices at ``size``² and a split file naming all patients.

    Args:
        root (str): Output folder.
        num_patients (int): Patients to write.
        size (int): Nominal slice size.

    Returns:
        str: Path of the split file.
    """
    make_synthetic_acdc(
        root, num_patients=num_patients, image_size=(size, size))
    split = osp.join(root, 'all_patients.txt')
    with open(split, 'w') as f:
        f.writelines(f'patient{i:03d}\n' for i in range(1, num_patients + 1))
    return split


def build_branch_dataset(cfg: Config, loader_key: str, root: str,
                         split: str):
    """The config's dataset of one branch, on the synthetic set."""
    dataset_cfg = copy.deepcopy(cfg[loader_key]['dataset'])
    dataset_cfg.update(data_root=root, split=split)
    dataset_cfg.pop('disjoint_with', None)  # one split holds every patient
    return DATASETS.build(dataset_cfg)


def time_loader(dataset, batch_size: int, workers: int, batches: int,
                pin_memory: bool) -> Dict[str, float]:
    """Slices per second of one DataLoader over ``batches`` batches.

    Args:
        dataset: The dataset.
        batch_size (int): Samples per batch.
        workers (int): ``num_workers``.
        batches (int): Batches timed after the first one.
        pin_memory (bool): Pin the batches (as with CUDA).

    Returns:
        dict: ``startup_s`` (first batch), ``slices_per_s`` and
        ``ms_per_batch`` over the timed batches.
    """
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=True,
        num_workers=workers,
        persistent_workers=workers > 0,
        pin_memory=pin_memory,
        collate_fn=pseudo_collate,
        drop_last=True)

    def endless():
        while True:
            yield from loader

    stream = endless()
    start = time.perf_counter()
    next(stream)
    startup = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(batches):
        next(stream)
    elapsed = time.perf_counter() - start
    del stream, loader  # ends persistent workers before the next count
    return dict(
        startup_s=startup,
        slices_per_s=batches * batch_size / elapsed,
        ms_per_batch=1000.0 * elapsed / batches)


def run(config: str,
        workers: Sequence[int] = (0, 1, 2, 4),
        batches: int = 20,
        batch_size: Optional[int] = None,
        crop: Optional[int] = None,
        num_patients: int = 4,
        root: Optional[str] = None,
        pin_memory: Optional[bool] = None) -> List[dict]:
    """Time both branches' pipelines for every worker count.

    Args:
        config (str): Training config (its labeled and unlabeled loaders).
        workers (Sequence[int]): Worker counts to try.
        batches (int): Timed batches per loader.
        batch_size (int, optional): Defaults to the config's.
        crop (int, optional): Slice size written and trained at (the
            config's Resize scale is set to it). Defaults to the config's
            ``crop_size``.
        num_patients (int): Synthetic patients (about 18 slices each).
        root (str, optional): Folder for the data; a temporary one if None.
        pin_memory (bool, optional): Defaults to CUDA being available.

    Returns:
        list[dict]: One row per branch and worker count.
    """
    init_default_scope('mmseg')
    cfg = Config.fromfile(config)
    crop = int(crop or cfg.get('crop_size', (256, 256))[0])
    if crop != tuple(cfg.get('crop_size', (crop, crop)))[0]:
        for key in ('train_dataloader', 'unlabeled_dataloader'):
            for step in cfg[key]['dataset']['pipeline']:
                if step.get('type') == 'Resize':
                    step['scale'] = (crop, crop)
    if pin_memory is None:
        pin_memory = torch.cuda.is_available()
    rows = []
    with tempfile.TemporaryDirectory(prefix='aigcmatch_data_bench_') as tmp:
        root = root or tmp
        start = time.perf_counter()
        split = write_demo_set(root, num_patients, crop)
        print(f'data: {num_patients} synthetic patients at {crop}x{crop} '
              f'written in {time.perf_counter() - start:.1f} s')
        for branch, key in BRANCHES:
            dataset = build_branch_dataset(cfg, key, root, split)
            size = int(batch_size or cfg[key]['batch_size'])
            size = min(size, len(dataset))
            for count in workers:
                row = dict(branch=branch, workers=int(count),
                           batch_size=size, slices=len(dataset))
                row.update(time_loader(dataset, size, int(count), batches,
                                       pin_memory))
                rows.append(row)
                print(f'data: {branch:9s} workers={count}: '
                      f'{row["slices_per_s"]:8.1f} slices/s '
                      f'({row["ms_per_batch"]:.1f} ms per batch of {size}; '
                      f'first batch {row["startup_s"]:.2f} s)')
    return rows


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config', default='configs/aigcmatch_acdc_7case.py')
    parser.add_argument('--workers', type=int, nargs='+', default=[0, 1, 2, 4])
    parser.add_argument('--batches', type=int, default=20)
    parser.add_argument('--batch-size', type=int, default=None)
    parser.add_argument('--crop', type=int, default=None)
    parser.add_argument('--num-patients', type=int, default=4)
    parser.add_argument('--json', default=None, help='write the rows here')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    rows = run(args.config, args.workers, args.batches, args.batch_size,
               args.crop, args.num_patients)
    if args.json:
        os.makedirs(osp.dirname(osp.abspath(args.json)), exist_ok=True)
        with open(args.json, 'w') as f:
            json.dump(rows, f, indent=2)
    return 0


if __name__ == '__main__':
    sys.exit(main())
