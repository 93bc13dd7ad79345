"""The augmentation of a sample is a function of (seed, position) only: not
of the worker that loads it, what it loaded before, or a resume."""
import pickle
import random

import numpy as np
import pytest
import torch
from mmengine.dataset import pseudo_collate
from mmseg.registry import DATASETS
from torch.utils.data import DataLoader

from projects.aigcmatch.engine import ResumableInfiniteSampler, SeededIndex

from reliability_helpers import tiny_config


@pytest.fixture(scope='module')
def unlabeled(small_acdc, tmp_path_factory):
    """The tiny tree's unlabeled dataset with the real multi-view pipeline
    (random rot/flip/rotate, two colour-jitter + blur strong views)."""
    cfg = tiny_config(small_acdc, work_dir=str(tmp_path_factory.mktemp('w')))
    return DATASETS.build(cfg.unlabeled_dataloader.dataset)


def views(sample):
    return torch.cat([sample['inputs'][k] for k in sorted(sample['inputs'])])


def batches(dataset, sampler, num_workers, count):
    loader = DataLoader(
        dataset,
        batch_size=3,
        sampler=sampler,
        num_workers=num_workers,
        collate_fn=pseudo_collate,
        worker_init_fn=lambda i: np.random.seed(1000 + i))
    out = []
    for batch in loader:
        out.append(
            torch.stack([
                torch.cat([batch['inputs'][k][i] for k in sorted(
                    batch['inputs'])]) for i in range(3)
            ]))
        if len(out) == count:
            return out


def test_sampler_yields_seeded_positions(unlabeled):
    sampler = ResumableInfiniteSampler(unlabeled, shuffle=True, seed=7)
    it = iter(sampler)
    first = [next(it) for _ in range(5)]
    assert all(isinstance(i, SeededIndex) for i in first)
    assert [i.sample_seed for i in first] == [(7, p) for p in range(5)]
    assert next(iter(sampler)) == first[0]  # a new iterator restarts
    sampler.skip(3)
    it = iter(sampler)
    resumed = [next(it) for _ in range(2)]
    assert [int(i) for i in resumed] == [int(i) for i in first[3:5]]
    assert [i.sample_seed for i in resumed] == [(7, 3), (7, 4)]


def test_positions_are_global_over_ranks(unlabeled):
    sampler = ResumableInfiniteSampler(unlabeled, shuffle=True, seed=7)
    sampler.rank, sampler.world_size = 1, 2
    sampler.skip(2)
    it = iter(sampler)
    assert [next(it).sample_seed[1] for _ in range(3)] == [5, 7, 9]


def test_plain_indices_on_request_and_pickling(unlabeled):
    sampler = ResumableInfiniteSampler(
        unlabeled, shuffle=False, seed=0, per_sample_seed=False)
    index = next(iter(sampler))
    assert type(index) is int
    seeded = SeededIndex(4, (1, 2))
    copy = pickle.loads(pickle.dumps(seeded))
    assert copy == 4 and copy.sample_seed == (1, 2)
    assert unlabeled.get_data_info(seeded) == unlabeled.get_data_info(4)


def test_sample_depends_on_position_only(unlabeled):
    np.random.seed(1)
    random.seed(1)
    a = views(unlabeled[SeededIndex(2, (0, 11))])
    np.random.seed(2)  # another global state: no effect
    state = np.random.get_state()
    py_state = random.getstate()
    b = views(unlabeled[SeededIndex(2, (0, 11))])
    assert torch.equal(a, b)
    # the caller's generators are left where they were
    assert np.array_equal(np.random.get_state()[1], state[1])
    assert random.getstate() == py_state
    other = [
        views(unlabeled[SeededIndex(2, key)]) for key in ((0, 12), (1, 11))
    ]
    assert not any(torch.equal(a, o) for o in other)
    # plain ints keep the usual global-RNG behaviour
    np.random.seed(3)
    c = views(unlabeled[2])
    np.random.seed(4)
    assert not torch.equal(c, views(unlabeled[2]))


def test_workers_and_resume_see_the_same_stream(unlabeled):
    def sampler(skip=0):
        s = ResumableInfiniteSampler(unlabeled, shuffle=True, seed=3)
        s.skip(skip)
        return s

    in_process = batches(unlabeled, sampler(), 0, 3)
    with_workers = batches(unlabeled, sampler(), 2, 3)
    resumed = batches(unlabeled, sampler(skip=3), 2, 2)
    for x, y in zip(in_process, with_workers):
        assert torch.equal(x, y)
    for x, y in zip(in_process[1:], resumed):
        assert torch.equal(x, y)
    assert not torch.equal(in_process[0], in_process[1])
