"""Refusing a checkpoint that is unsafe, unreadable or does not fit the model,
before a run resumes from it or loads it."""
import logging
import os
import os.path as osp
import re
from typing import Optional

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.model import BaseTTAModel, is_model_wrapper
from mmengine.runner import find_latest_checkpoint
from mmseg.registry import HOOKS

from ...compat import UnreadableCheckpointError, safe_load_checkpoint


@HOOKS.register_module()
class SafeCheckpointHook(Hook):
    """Check the checkpoint a run will resume (or load) from, first.

    A checkpoint is untrusted input: unpickling can execute code. Loading is
    weights-only (see ``projects.aigcmatch.compat.checkpoint``), but a
    refused file reaches the user as torch's long message, which suggests
    turning ``weights_only`` off. And mmengine loads a checkpoint that does
    not fit the model (another number of classes, another backbone, a file
    of a few keys) with warnings only, leaving the rest of the model at its
    random initialisation: ``tools/test.py`` then reports metrics of random
    weights and ``load_from`` trains from scratch.

    This hook opens the checkpoint that ``--resume`` (the work dir's latest)
    or ``load_from`` names in ``before_run``, before the runner loads it, and
    stops the run with one line naming the file when it

    - pickles an object outside the allow-list
      (:func:`~projects.aigcmatch.compat.safe_load_checkpoint`),
    - cannot be read (truncated, empty, not a torch file),
    - does not fit the model exactly: missing, mis-shaped or unexpected keys
      (:func:`~projects.aigcmatch.apis.model_loading.check_state_dict`).

    The file is read twice; that costs seconds, once per run.

    Args:
        partial_load (bool): Accept a ``load_from`` checkpoint that fits the
            model in part (initial weights from another model, e.g. a
            backbone-only pretraining) and log what was and was not loaded.
            A resumed checkpoint must always fit exactly. Set by
            ``tools/train.py --partial-load``. Defaults to False.
    """

    priority = 'VERY_HIGH'

    def __init__(self, partial_load: bool = False) -> None:
        self.partial_load = bool(partial_load)

    def before_run(self, runner) -> None:
        """Refuse an unsafe, unreadable or ill-fitting checkpoint before it
        is loaded."""
        # imported here: apis imports the datasets and mmseg's models
        from ...apis.model_loading import check_state_dict, state_dict_of

        path = self.checkpoint_to_load(runner)
        if path is None or '://' in path:
            return  # nothing to load, or a remote file mmengine fetches
        resuming = self.is_resuming(runner)
        what = 'the checkpoint to resume' if resuming else 'load_from'
        if not osp.isfile(path):
            raise FileNotFoundError(f'{what} {path}: no such file')
        try:
            checkpoint = safe_load_checkpoint(path)
        except UnreadableCheckpointError as err:
            raise UnreadableCheckpointError(
                f'{err}{self._other_checkpoints_hint(path)}'
                if resuming else str(err)) from None
        state = state_dict_of(checkpoint, path)
        # DDP and the test-time augmentation wrapper (SegTTAModel) hold the
        # segmentor as `module`; mmengine loads the checkpoint into it
        model = runner.model.module if is_model_wrapper(
            runner.model) or isinstance(runner.model,
                                        BaseTTAModel) else runner.model
        config = getattr(runner.cfg, 'filename', None) or 'the config'
        partial = self.partial_load and not resuming
        fit = check_state_dict(
            model, state, path, config, allow_partial=partial)
        if partial:
            print_log(
                f'load_from {path}: partial load (--partial-load): '
                f'{fit.describe_partial()}',
                logger='current',
                level=logging.WARNING)

    @staticmethod
    def _other_checkpoints_hint(path: str) -> str:
        # a broken latest checkpoint: say which earlier ones could be resumed
        folder = osp.dirname(path)
        others = sorted(
            (f for f in os.listdir(folder) if re.fullmatch(r'iter_\d+\.pth', f)
             and osp.join(folder, f) != path),
            key=lambda f: int(f[5:-4]))
        if not others:
            return ''
        return (f'; to resume from an earlier checkpoint of the work dir '
                f'({", ".join(others)}), pass --resume --cfg-options '
                f'load_from={osp.join(folder, others[-1])}')

    @staticmethod
    def is_resuming(runner) -> bool:
        """Whether ``runner.load_or_resume()`` resumes (not only loads)."""
        return bool(getattr(runner, '_resume', False))

    @staticmethod
    def checkpoint_to_load(runner) -> Optional[str]:
        """The checkpoint ``runner.load_or_resume()`` is going to load.

        Args:
            runner (Runner): The runner.

        Returns:
            str | None: Its path, or None if nothing will be loaded.
        """
        resume = getattr(runner, '_resume', False)
        load_from = getattr(runner, '_load_from', None)
        if resume and load_from is None:
            return find_latest_checkpoint(runner.work_dir)
        return load_from
