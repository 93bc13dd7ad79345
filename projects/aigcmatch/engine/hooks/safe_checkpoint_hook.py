"""Refusing an unsafe checkpoint before a run resumes from it."""
import os.path as osp
from typing import Optional

from mmengine.hooks import Hook
from mmengine.runner import find_latest_checkpoint
from mmseg.registry import HOOKS

from ...compat import safe_load_checkpoint


@HOOKS.register_module()
class SafeCheckpointHook(Hook):
    """Check the checkpoint a run will resume (or load) from, first.

    A checkpoint is untrusted input: unpickling can execute code. Loading is
    weights-only (see ``projects.aigcmatch.compat.checkpoint``), but a
    refused file reaches the user as torch's long message, which suggests
    turning ``weights_only`` off. This hook opens the checkpoint that
    ``--resume`` (the work dir's latest) or ``load_from`` names with
    :func:`~projects.aigcmatch.compat.safe_load_checkpoint` in
    ``before_run``, before the runner loads it, so a crafted file stops the
    run with one line naming the file and the reason. The file is read twice;
    that costs seconds, once per run.
    """

    priority = 'VERY_HIGH'

    def before_run(self, runner) -> None:
        """Refuse an unsafe checkpoint before it is loaded."""
        path = self.checkpoint_to_load(runner)
        if path is not None and osp.isfile(path):
            safe_load_checkpoint(path)

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
