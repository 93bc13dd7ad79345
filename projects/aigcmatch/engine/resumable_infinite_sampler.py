"""An infinite sampler that can fast-forward without loading any data."""
from typing import Iterator

from mmengine.dataset import InfiniteSampler
from mmseg.registry import DATA_SAMPLERS


@DATA_SAMPLERS.register_module()
class ResumableInfiniteSampler(InfiniteSampler):
    """mmengine's ``InfiniteSampler`` plus :meth:`skip`.

    On resume, mmengine's iteration loop replays the dataloader for every
    iteration already trained (loading and augmenting every batch again),
    which takes hours late in a 30k-iteration run. The index stream of an
    ``InfiniteSampler`` depends only on its seed, so skipping indices gives
    the same position at no cost.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
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
        yield from indices
