"""An infinite sampler that can fast-forward without loading any data, and
whose indices seed each sample's augmentation by its position."""
from typing import Iterator, Tuple

from mmengine.dataset import InfiniteSampler
from mmseg.registry import DATA_SAMPLERS


class SeededIndex(int):
    """A dataset index that also says which random draws its sample gets.

    It is an ``int``, so any dataset accepts it; datasets that know about it
    (``H5SliceDataset``) run their pipeline with the global generators seeded
    from :attr:`sample_seed`.

    Args:
        index (int): The dataset index.
        sample_seed (tuple[int, int]): (sampler seed, position of the sample
            in the sampler's stream, counted over all ranks).
    """

    sample_seed: Tuple[int, int]

    def __new__(cls, index: int,
                sample_seed: Tuple[int, int]) -> 'SeededIndex':
        obj = super().__new__(cls, index)
        obj.sample_seed = tuple(int(k) for k in sample_seed)
        return obj

    def __reduce__(self):
        # Crosses the queue to the loader's workers.
        return (SeededIndex, (int(self), self.sample_seed))

    def __repr__(self) -> str:
        return f'SeededIndex({int(self)}, sample_seed={self.sample_seed})'


@DATA_SAMPLERS.register_module()
class ResumableInfiniteSampler(InfiniteSampler):
    """mmengine's ``InfiniteSampler`` plus :meth:`skip` and per-sample seeds.

    On resume, mmengine's iteration loop replays the dataloader for every
    iteration already trained (loading and augmenting every batch again),
    which takes hours late in a 30k-iteration run. The index stream of an
    ``InfiniteSampler`` depends only on its seed, so skipping indices gives
    the same position at no cost.

    The augmentation must resume too. mmengine seeds each loader worker once,
    so a worker's random stream depends on everything it loaded before, and
    which worker loads which sample is not fixed. Instead every index is a
    :class:`SeededIndex` carrying (seed, position): the k-th sample of the
    stream gets the same random draws in every run with this seed, resumed
    or not, whatever the number of workers. The runner seeds each branch's
    sampler differently (``SemiSupervisedIterLoop``: seed + 0 / 1 / 2), so
    the branches draw independently.

    Args:
        *args: As ``InfiniteSampler`` (``dataset``, ``shuffle``, ``seed``).
        per_sample_seed (bool): Yield :class:`SeededIndex` instead of plain
            ints. Defaults to True.
        **kwargs: As ``InfiniteSampler``.
    """

    def __init__(self, *args, per_sample_seed: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.per_sample_seed = per_sample_seed
        self._skip = 0

    def skip(self, num_samples: int) -> None:
        """Make the next iterator start ``num_samples`` indices later."""
        if num_samples < 0:
            raise ValueError(f'cannot skip {num_samples} samples')
        self._skip = int(num_samples)

    def __iter__(self) -> Iterator[int]:
        indices = self._indices_of_rank()
        skip, self._skip = self._skip, 0
        for _ in range(skip):
            next(indices)
        if not self.per_sample_seed:
            yield from indices
            return
        # This rank's k-th index is position rank + k * world_size of the
        # stream shared by all ranks.
        position = self.rank + skip * self.world_size
        for index in indices:
            yield SeededIndex(index, (self.seed, position))
            position += self.world_size
