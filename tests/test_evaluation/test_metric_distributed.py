"""Two gloo processes with a padding sampler give the one-process result."""
import os
import pickle
import socket

import numpy as np
import torch.distributed as dist
import torch.multiprocessing as mp
from mmengine.dataset import DefaultSampler

from projects.aigcmatch.evaluation import MedicalMetric
from .helpers import volume_samples

CLASSES = ('background', 'RV', 'Myo', 'LV')


def make_cases():
    rng = np.random.default_rng(7)
    cases = []
    # 3 + 4 = 7 slices: does not divide by 2, so the sampler pads one
    for i, depth in enumerate((3, 4)):
        gt = rng.integers(0, 4, (depth, 9, 11)).astype(np.uint8)
        pred = np.where(rng.random(gt.shape) < 0.25,
                        rng.integers(0, 4, gt.shape), gt).astype(np.uint8)
        cases.append((f'patient{i:03d}_frame01', pred, gt, (5.0, 1.5, 1.5)))
    return cases


def make_metric():
    metric = MedicalMetric(distance_unit='mm', num_workers=0)
    metric.dataset_meta = dict(classes=CLASSES)
    return metric


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def run_rank(rank, world_size, port, workdir):
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=world_size)
    try:
        # mmengine's cpu gathering writes its temporary folder into the cwd
        os.chdir(workdir)
        samples = [s for c in make_cases() for s in volume_samples(*c)]
        sampler = DefaultSampler(samples, shuffle=False)  # pads by default
        indices = list(sampler)
        results = dict(shard=indices)
        # 'exact': mmengine drops the padding by size; 'padded': it does not,
        # so the metric's own de-duplication must.
        for name, size in (('exact', len(samples)),
                           ('padded', len(indices) * world_size)):
            metric = make_metric()
            for start in range(0, len(indices), 2):
                metric.process(None,
                               [samples[i] for i in indices[start:start + 2]])
            results[name] = metric.evaluate(size)
        with open(os.path.join(workdir, f'rank{rank}.pkl'), 'wb') as f:
            pickle.dump(results, f)
    finally:
        dist.destroy_process_group()


def test_two_process_gloo_equals_one_process(tmp_path):
    single = make_metric()
    for case in make_cases():
        single.process(None, volume_samples(*case))
    expected = single.compute_metrics(single.results)

    mp.spawn(run_rank, args=(2, free_port(), str(tmp_path)), nprocs=2,
             join=True)
    ranks = []
    for rank in range(2):
        with open(tmp_path / f'rank{rank}.pkl', 'rb') as f:
            ranks.append(pickle.load(f))
    # the sampler really padded: 8 indices for 7 slices, one repeated
    shards = ranks[0]['shard'] + ranks[1]['shard']
    assert len(shards) == 8 and len(set(shards)) == 7
    for result in ranks:  # rank 1 receives rank 0's broadcast
        assert result['exact'] == expected
        assert result['padded'] == expected
