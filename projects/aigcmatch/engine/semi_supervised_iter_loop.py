"""Iteration-based training loop feeding labeled and unlabeled batches."""
import logging
from typing import Dict, Optional, Union

from mmengine.logging import print_log
from mmengine.runner.loops import IterBasedTrainLoop, _InfiniteDataloaderIterator
from mmseg.registry import LOOPS
from torch.utils.data import DataLoader

from .resumable_infinite_sampler import ResumableInfiniteSampler

BRANCH_SEED_OFFSETS = dict(labeled=0, unlabeled=1, mix=2)


@LOOPS.register_module()
class SemiSupervisedIterLoop(IterBasedTrainLoop):
    """``IterBasedTrainLoop`` whose batches are ``{'labeled': ..., 'unlabeled':
    ...}`` (plus ``'mix'`` when a mix loader is given).

    Each branch has its own dataloader and its own infinite iterator, seeded
    differently (runner seed + 0 / 1 / 2), so the labeled and unlabeled
    streams are independent; with several processes every loader uses a
    distributed infinite sampler. On resume each stream continues where it
    stopped (instantly with :class:`ResumableInfiniteSampler`).

    Args:
        runner (Runner): The runner.
        dataloader (DataLoader | dict): The labeled dataloader
            (``train_dataloader`` of the config).
        max_iters (int): Total training iterations.
        unlabeled_dataloader (DataLoader | dict, optional): The unlabeled
            dataloader. Defaults to the config's top-level
            ``unlabeled_dataloader``; one of the two must exist.
        mix_dataloader (DataLoader | dict, optional): A second unlabeled
            loader whose images are CutMix partners (``mix_source='loader'``).
            Defaults to the config's top-level ``mix_dataloader`` if any. It
            is built only if the model's ``train_branches`` name ``'mix'``.
        val_begin (int): Iteration to start validating at. Defaults to 1.
        val_interval (int): Validation interval. Defaults to 1000.
        dynamic_intervals (list, optional): As in ``IterBasedTrainLoop``.
    """

    def __init__(self,
                 runner,
                 dataloader: Union[DataLoader, Dict],
                 max_iters: int,
                 unlabeled_dataloader: Optional[Union[DataLoader, Dict]] = None,
                 mix_dataloader: Optional[Union[DataLoader, Dict]] = None,
                 val_begin: int = 1,
                 val_interval: int = 1000,
                 dynamic_intervals=None) -> None:
        super().__init__(runner, dataloader, max_iters, val_begin,
                         val_interval, dynamic_intervals)
        cfg = getattr(runner, 'cfg', None) or {}
        if unlabeled_dataloader is None:
            unlabeled_dataloader = cfg.get('unlabeled_dataloader')
        if unlabeled_dataloader is None:
            raise ValueError(
                'SemiSupervisedIterLoop needs an unlabeled dataloader: set '
                '`unlabeled_dataloader` in the config (top level or in '
                'train_cfg); a supervised config uses IterBasedTrainLoop')
        if mix_dataloader is None:
            mix_dataloader = cfg.get('mix_dataloader')
        self.loaders = dict(labeled=self.dataloader)
        self.loaders['unlabeled'] = self._build(unlabeled_dataloader,
                                                'unlabeled')
        # A configured mix loader is built only for a model that reads it
        # (no data loading for partners nobody uses).
        if mix_dataloader is not None and 'mix' in self._model_branches():
            self.loaders['mix'] = self._build(mix_dataloader, 'mix')
        self._check_against_model()
        self.iterators = {
            name: (self.dataloader_iterator if name == 'labeled' else
                   _InfiniteDataloaderIterator(loader))
            for name, loader in self.loaders.items()
        }

    def _build(self, loader, branch: str) -> DataLoader:
        if isinstance(loader, DataLoader):
            return loader
        randomness = getattr(self.runner, '_randomness_cfg', {}) or {}
        seed = self.runner.seed
        return self.runner.build_dataloader(
            loader,
            seed=None if seed is None else seed + BRANCH_SEED_OFFSETS[branch],
            diff_rank_seed=randomness.get('diff_rank_seed', False))

    def _model(self):
        model = self.runner.model
        return getattr(model, 'module', model)

    def _model_branches(self):
        """Branches the model reads; a model that does not say gets every
        configured loader."""
        return getattr(self._model(), 'train_branches',
                       ('labeled', 'unlabeled', 'mix'))

    def _check_against_model(self) -> None:
        check = getattr(self._model(), 'check_train_batches', None)
        if check is not None:
            check({
                name: loader.batch_size
                for name, loader in self.loaders.items()
            })

    def _fast_forward(self) -> None:
        """Continue every stream after the ``self._iter`` batches trained."""
        for name, loader in self.loaders.items():
            sampler = loader.sampler
            if isinstance(sampler, ResumableInfiniteSampler):
                sampler.skip(self._iter * loader.batch_size)
                self.iterators[name] = _InfiniteDataloaderIterator(loader)
            else:
                print_log(
                    f'{name} loader: replaying {self._iter} batches to '
                    'resume (use ResumableInfiniteSampler to skip instantly)',
                    logger='current',
                    level=logging.WARNING)
                for _ in range(self._iter):
                    next(self.iterators[name])
        self.dataloader_iterator = self.iterators['labeled']

    def run(self):
        """Launch training."""
        self.runner.call_hook('before_train')
        self.runner.call_hook('before_train_epoch')
        if self._iter > 0:
            self._fast_forward()
        while self._iter < self._max_iters and not self.stop_training:
            self.runner.model.train()
            data_batch = {
                name: next(iterator)
                for name, iterator in self.iterators.items()
            }
            self.run_iter(data_batch)
            self._decide_current_val_interval()
            if (self.runner.val_loop is not None
                    and self._iter >= self.val_begin
                    and (self._iter % self.val_interval == 0
                         or self._iter == self._max_iters)):
                self.runner.val_loop.run()
        self.runner.call_hook('after_train_epoch')
        self.runner.call_hook('after_train')
        return self.runner.model
