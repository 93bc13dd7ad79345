"""Stopping a run whose loss is NaN or inf, instead of training on it."""
import logging
import math
import os.path as osp
from typing import Dict, Optional

from mmengine.hooks import Hook, RuntimeInfoHook
from mmengine.logging import print_log
from mmengine.optim import AmpOptimWrapper, OptimWrapperDict
from mmseg.registry import HOOKS


def _uses_amp(optim_wrapper) -> bool:
    if isinstance(optim_wrapper, OptimWrapperDict):
        return any(
            isinstance(w, AmpOptimWrapper) for w in optim_wrapper.values())
    return isinstance(optim_wrapper, AmpOptimWrapper)


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Stop training when a loss term is NaN or inf, naming term and
    iteration.

    With a plain optimiser a non-finite loss has already put NaN into the
    weights when the iteration ends, so the run stops at once (before the
    checkpoint of that iteration is written: this hook runs before
    ``CheckpointHook``). With ``AmpOptimWrapper`` the grad scaler skips a
    step whose gradients overflow and the weights stay intact, so only
    ``amp_max_consecutive`` non-finite losses in a row stop the run.

    No extra host sync: the values are read from the message hub, where
    ``RuntimeInfoHook`` has already put them (as Python floats) this
    iteration; without that hook the loss tensors in ``outputs`` are read.

    Args:
        max_consecutive (int, optional): Consecutive iterations with a
            non-finite loss that stop the run. Defaults to None: 1, or
            ``amp_max_consecutive`` with AMP.
        amp_max_consecutive (int): The default under AMP. Defaults to 5.
    """

    priority = 'NORMAL'  # after RuntimeInfoHook, before CheckpointHook

    def __init__(self,
                 max_consecutive: Optional[int] = None,
                 amp_max_consecutive: int = 5) -> None:
        for name, value in (('max_consecutive', max_consecutive),
                            ('amp_max_consecutive', amp_max_consecutive)):
            if value is not None and (not isinstance(value, int)
                                      or value < 1):
                raise ValueError(f'NonFiniteLossHook: {name}={value!r}; '
                                 'expected an integer >= 1')
        self.max_consecutive = max_consecutive
        self.amp_max_consecutive = amp_max_consecutive
        self.limit = max_consecutive or 1
        self._streak = 0
        self._from_hub = True

    def before_train(self, runner) -> None:
        """Choose the limit from the optimiser wrapper."""
        if self.max_consecutive is None:
            amp = _uses_amp(runner.optim_wrapper)
            self.limit = self.amp_max_consecutive if amp else 1
        self._from_hub = any(
            isinstance(h, RuntimeInfoHook) for h in runner.hooks)
        self._streak = 0

    def _loss_values(self, runner, outputs: dict) -> Dict[str, float]:
        values = {}
        for key, value in outputs.items():
            if 'loss' not in key:
                continue
            buffer = (runner.message_hub.log_scalars.get(f'train/{key}')
                      if self._from_hub else None)
            if buffer is not None:
                values[key] = float(buffer.current())
            else:
                values[key] = float(value)
        return values

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs: Optional[dict] = None) -> None:
        """Check this iteration's loss terms."""
        if not outputs:
            return
        values = self._loss_values(runner, outputs)
        bad = {k: v for k, v in values.items() if not math.isfinite(v)}
        if not bad:
            self._streak = 0
            return
        self._streak += 1
        iteration = runner.iter + 1
        # the terms first: the total is non-finite whenever one of them is
        terms = ', '.join(
            f'{k}={v}' for k, v in sorted(bad.items(),
                                          key=lambda kv: kv[0] == 'loss'))
        if self._streak < self.limit:
            print_log(
                f'non-finite loss at iteration {iteration}: {terms} '
                f'({self._streak} in a row; stopping at {self.limit})',
                logger='current',
                level=logging.WARNING)
            return
        raise FloatingPointError(
            f'non-finite loss at iteration {iteration}: {terms} '
            f'({self._streak} iteration(s) in a row). Training stopped '
            'instead of going on with NaN weights; this iteration was not '
            f'checkpointed ({_last_checkpoint(runner)}). Usual causes: too '
            'high a learning rate, bad data (run tools/check_dataset.py '
            'CONFIG), fp16 overflow. A resume repeats the same random draws, '
            'so change the learning rate or the seed to get past it.')


def _last_checkpoint(runner) -> str:
    path = osp.join(runner.work_dir, 'last_checkpoint')
    if osp.isfile(path):
        with open(path) as f:
            return f'the last one is {f.read().strip()}'
    return 'no checkpoint was saved before'
