"""Saving the main process's random generators in checkpoints, so a resumed
run draws what the uninterrupted run would have drawn."""
import logging
import random
from typing import Optional

import numpy as np
import torch
from mmengine.dist import get_rank, get_world_size
from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmseg.registry import HOOKS

#: Key of the random states in a checkpoint dict.
RANDOM_STATES_KEY = 'random_states'


def _cuda_in_use() -> bool:
    return torch.cuda.is_available() and torch.cuda.is_initialized()


def capture_random_states() -> dict:
    """The states of torch's (CPU and current CUDA device), numpy's and
    Python's global generators, as weights-only-loadable values.

    Only tensors, ints, floats, None and dicts: a checkpoint is loaded with
    ``torch.load(weights_only=True)``, which refuses pickled objects such as
    numpy's ``RandomState`` or Python's state tuples of custom types.

    Returns:
        dict: ``torch``, ``cuda`` (None without CUDA), ``numpy`` and
        ``python``.
    """
    _, keys, pos, has_gauss, cached_gaussian = np.random.get_state()
    py_version, py_internal, py_gauss_next = random.getstate()
    return dict(
        torch=torch.get_rng_state(),
        cuda=torch.cuda.get_rng_state() if _cuda_in_use() else None,
        numpy=dict(
            keys=torch.from_numpy(keys.astype(np.int64)),
            pos=int(pos),
            has_gauss=int(has_gauss),
            cached_gaussian=float(cached_gaussian)),
        python=dict(
            version=int(py_version),
            internal=torch.tensor(py_internal, dtype=torch.int64),
            gauss_next=py_gauss_next))


def restore_random_states(states: dict) -> None:
    """Set the global generators to states from
    :func:`capture_random_states`.

    Args:
        states (dict): The captured states. Tensors may sit on any device:
            a resume maps the checkpoint to the training device.
    """
    torch.set_rng_state(states['torch'].cpu())
    if states.get('cuda') is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state(states['cuda'].cpu())
    npy = states['numpy']
    np.random.set_state(('MT19937',
                         npy['keys'].cpu().numpy().astype(np.uint32),
                         int(npy['pos']), int(npy['has_gauss']),
                         float(npy['cached_gaussian'])))
    py = states['python']
    random.setstate((int(py['version']),
                     tuple(int(v) for v in py['internal'].tolist()),
                     py['gauss_next']))


def _reseed(key) -> None:
    words = np.random.SeedSequence(list(key)).generate_state(3)
    np.random.seed(words[0])
    random.seed(int(words[1]))
    torch.manual_seed(int(words[2]))


@HOOKS.register_module()
class RandomStateHook(Hook):
    """Make ``--resume`` continue the model-side random streams exactly.

    The sampler resumes which samples come next, and
    ``ResumableInfiniteSampler`` seeds each sample's augmentation by its
    position; what is left is the main process: dropout, CutMix boxes,
    feature-perturbation masks, all drawn from torch's (and possibly numpy's
    and Python's) global generators. This hook

    * saves their states in every checkpoint (key ``random_states``);
    * on ``--resume``, sets them back just before the first resumed training
      iteration — after the runner has built loaders and started workers,
      which draw from the same generators;
    * keeps validation out of the training stream: the states are taken
      before validation and put back after it, so a run validated at other
      intervals (or a resumed run, which does not re-validate) trains on the
      same draws. A checkpoint saved during validation (the best one) stores
      the states of training, not of validation.

    With several processes only rank 0 writes the checkpoint; the ranks'
    streams are equal unless ``randomness.diff_rank_seed=True``, in which
    case ranks above 0 are re-seeded from (seed, iteration, rank) on resume:
    reproducible, but not bit-identical to the uninterrupted run.
    """

    priority = 'VERY_HIGH'

    def __init__(self) -> None:
        self._pending: Optional[dict] = None
        self._pending_iter = 0
        self._before_val: Optional[dict] = None

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        """Store the training stream's states in the checkpoint."""
        states = dict(self._before_val or capture_random_states())
        states['world_size'] = get_world_size()
        checkpoint[RANDOM_STATES_KEY] = states

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        """Keep the states for the first resumed iteration (only when
        resuming: ``load_from`` starts a new run with its own seed)."""
        if not getattr(runner, '_resume', False):
            return
        states = checkpoint.get(RANDOM_STATES_KEY)
        if states is None:
            print_log(
                'the checkpoint holds no random states (saved without '
                'RandomStateHook): training resumes with fresh random '
                'streams, so it will not repeat the interrupted run exactly',
                logger='current',
                level=logging.WARNING)
            return
        self._pending = states
        self._pending_iter = int(checkpoint.get('meta', {}).get('iter', 0))

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch=None) -> None:
        """Set the resumed states before the first resumed iteration."""
        if self._pending is None:
            return
        states, self._pending = self._pending, None
        restore_random_states(states)
        randomness = getattr(runner, '_randomness_cfg', None) or {}
        if get_world_size() > 1 and randomness.get('diff_rank_seed', False):
            if get_rank() > 0:
                _reseed((runner.seed, self._pending_iter, get_rank()))
            print_log(
                'diff_rank_seed=True: ranks above 0 re-seeded from (seed, '
                'iteration, rank); the resumed run is reproducible but not '
                'identical to an uninterrupted one',
                logger='current',
                level=logging.WARNING)
        print_log(
            f'random states of iteration {self._pending_iter} restored',
            logger='current')

    def before_val(self, runner) -> None:
        """Take the training stream's states before validation draws."""
        self._before_val = capture_random_states()

    def after_val(self, runner) -> None:
        """Give the training stream its states back."""
        if self._before_val is not None:
            restore_random_states(self._before_val)
            self._before_val = None
