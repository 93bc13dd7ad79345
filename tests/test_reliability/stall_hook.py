"""A hook that parks a training run after a given iteration, so a test can
SIGKILL it at a known point (imported through the test config's
``custom_imports``; the iteration comes from ``AIGCMATCH_STALL_AT``)."""
import os
import os.path as osp
import time

from mmengine.hooks import Hook
from mmseg.registry import HOOKS


@HOOKS.register_module()
class StallHook(Hook):
    """After iteration ``$AIGCMATCH_STALL_AT`` (weights already updated, not
    checkpointed), write ``work_dir/stalled`` and sleep until killed; does
    nothing when the variable is unset."""

    priority = 'LOWEST'

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        stall_at = os.environ.get('AIGCMATCH_STALL_AT')
        if stall_at is None or runner.iter + 1 != int(stall_at):
            return
        with open(osp.join(runner.work_dir, 'stalled'), 'w') as f:
            f.write(str(runner.iter + 1))
        time.sleep(300)
