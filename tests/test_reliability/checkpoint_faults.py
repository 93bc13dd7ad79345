"""Faults in checkpoint writes of a training run, and a metric that improves
at every validation (imported through the test config's ``custom_imports``).

``AIGCMATCH_CKPT_FAULT=KIND:PREFIX:N`` makes the N-th file write whose name
starts with PREFIX (after the dot of a hidden partial file) write half of
its bytes, then

- ``kill``: SIGKILL the process (a kill during the write);
- ``enospc``: raise ``OSError(ENOSPC)`` (the disk is full).

Unset: nothing is changed.
"""
import errno
import os
import os.path as osp
import signal

from mmengine.evaluator import BaseMetric
from mmengine.fileio import LocalBackend
from mmengine.logging import MessageHub
from mmseg.registry import METRICS


@METRICS.register_module()
class IterationScore(BaseMetric):
    """``score`` = the training iteration: every validation is a new best,
    so a best checkpoint is written at a known point."""

    def process(self, data_batch, data_samples) -> None:
        self.results.append(1)

    def compute_metrics(self, results) -> dict:
        return dict(score=float(
            MessageHub.get_current_instance().get_info('iter', 0)))


def _install(spec: str) -> None:
    kind, prefix, nth = spec.split(':')
    if kind not in ('kill', 'enospc'):
        raise ValueError(f'AIGCMATCH_CKPT_FAULT={spec!r}: unknown kind')
    original = LocalBackend.put
    seen = [0]

    def put(self, obj, filepath):
        if osp.basename(str(filepath)).lstrip('.').startswith(prefix):
            seen[0] += 1
            if seen[0] == int(nth):
                with open(filepath, 'wb') as f:
                    f.write(obj[:len(obj) // 2])
                    f.flush()
                    os.fsync(f.fileno())
                if kind == 'kill':
                    os.kill(os.getpid(), signal.SIGKILL)
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return original(self, obj, filepath)

    LocalBackend.put = put


if os.environ.get('AIGCMATCH_CKPT_FAULT'):
    _install(os.environ['AIGCMATCH_CKPT_FAULT'])
