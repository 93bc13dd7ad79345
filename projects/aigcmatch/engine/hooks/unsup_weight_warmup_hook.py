"""A schedule for the weight of the unlabeled losses."""
import math
from typing import Optional

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmseg.registry import HOOKS

SHAPES = ('sigmoid', 'linear')


@HOOKS.register_module()
class UnsupWeightWarmupHook(Hook):
    """Ramp the unlabeled losses of a ``WeakToStrongSegmentor`` in from 0.

    Early in training the weak view's confident pixels are mostly background,
    so consistency on them teaches the model to predict background everywhere
    before the labeled loss has taught it anything (on the demo data the
    semi-supervised run then trails the supervised baseline for hundreds of
    iterations).

    The hook edits the segmentor's ``loss_weights`` dict in place: at
    ``before_train`` it keeps the configured ``strong`` and ``fp`` weights,
    and before every training iteration it sets each to that value times
    ``ramp(iter / warmup_iters)``: the sigmoid-shaped ``exp(-5 (1 - t)^2)``
    of Laine & Aila (2017), or linear, then 1. The ``labeled`` weight is left
    alone. The factor is logged as ``train/unsup_scale``. It depends only on
    the iteration, so resumed runs continue exactly.

    Args:
        warmup_iters (int): Iterations until the full weight. 0 disables.
        shape (str): 'sigmoid' (default) or 'linear'.
    """

    priority = 'NORMAL'

    def __init__(self, warmup_iters: int, shape: str = 'sigmoid') -> None:
        if warmup_iters < 0:
            raise ValueError(
                f'UnsupWeightWarmupHook: warmup_iters must be >= 0, got '
                f'{warmup_iters}')
        if shape not in SHAPES:
            raise ValueError(f'UnsupWeightWarmupHook: shape must be one of '
                             f'{SHAPES}, got "{shape}"')
        self.warmup_iters = int(warmup_iters)
        self.shape = shape

    def scale(self, iteration: int) -> float:
        """The weight at 0-based ``iteration``."""
        if self.warmup_iters == 0 or iteration >= self.warmup_iters:
            return 1.0
        t = max(iteration, 0) / self.warmup_iters
        if self.shape == 'linear':
            return t
        return math.exp(-5.0 * (1.0 - t)**2)

    def before_train(self, runner) -> None:
        model = self._model(runner)
        weights = getattr(model, 'loss_weights', None)
        if not isinstance(weights, dict) or not {'strong', 'fp'} <= set(
                weights):
            raise TypeError(
                'UnsupWeightWarmupHook needs a model with loss_weights '
                "{'strong': ..., 'fp': ...} (WeakToStrongSegmentor); got "
                f'{type(model).__name__}')
        self._base = dict(weights)

    def before_train_iter(self,
                          runner,
                          batch_idx: int,
                          data_batch: Optional[dict] = None) -> None:
        factor = self.scale(runner.iter)
        weights = self._model(runner).loss_weights
        for key in ('strong', 'fp'):
            weights[key] = self._base[key] * factor
        runner.message_hub.update_scalar('train/unsup_scale', factor)

    @staticmethod
    def _model(runner):
        model = runner.model
        return model.module if is_model_wrapper(model) else model
