"""Checkpoint writes that a kill or a full disk cannot turn into a loss."""
import errno
import os
import os.path as osp
from typing import Optional

from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend
from mmengine.hooks import CheckpointHook
from mmseg.registry import HOOKS

from ...utils.cli import UserError

#: Suffix of a checkpoint being written (hidden: ``.<name>.writing``); never
#: matches ``*.pth``, so ``--resume`` and the work-dir checks ignore it.
PARTIAL_SUFFIX = '.writing'


class CheckpointWriteError(UserError):
    """A checkpoint could not be written (full disk, quota, permissions);
    the message says which one and what is intact."""


def _fsync(path: str) -> None:
    # the rename must not reach the disk before the data it names
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook`` (same arguments), with writes that cannot
    lose a checkpoint.

    mmengine writes ``iter_N.pth`` in place, removes the oldest kept
    checkpoint *before* writing the new one, and removes the previous best
    checkpoint *before* writing the new best: a kill (or a full disk) during
    the write leaves a truncated file where the previous one was, and with
    ``max_keep_ckpts=1`` or a new best, nothing complete at all. Here:

    - every checkpoint is written to a hidden ``.<name>.writing`` file in the
      same folder, flushed to disk, then renamed over ``<name>`` (atomic on
      POSIX file systems): ``<name>`` is either the old complete file or the
      new complete file, never a part;
    - the oldest kept checkpoint and the previous best are removed only
      after the new one is complete; ``last_checkpoint`` is replaced the same
      way;
    - a write that fails (``OSError``: full disk, quota, permissions) removes
      its partial file and stops the run with one line naming the file, the
      reason, and the last and best checkpoints that are intact
      (:class:`CheckpointWriteError`);
    - partial files left by a killed run are removed when training starts.

    Remote backends (not a local folder) are written as mmengine writes them.
    """

    def before_train(self, runner) -> None:
        """Set up as mmengine does; drop partial files of a killed run."""
        super().before_train(runner)
        if not self._atomic() or not is_main_process() or \
                not osp.isdir(self.out_dir):
            return
        for name in os.listdir(self.out_dir):
            if name.startswith('.') and name.endswith(PARTIAL_SUFFIX):
                os.remove(osp.join(self.out_dir, name))
                runner.logger.info(
                    f'removed {name}, a checkpoint whose write was '
                    'interrupted (the complete checkpoints are untouched)')

    def _atomic(self) -> bool:
        return isinstance(getattr(self, 'file_backend', None), LocalBackend)

    # ------------------------------------------------------------ writing
    def _write(self, runner, filename: str, what: str, intact: str,
               iteration: int, **kwargs) -> None:
        """``runner.save_checkpoint`` to ``out_dir/filename``, atomically.

        Args:
            runner (Runner): The runner.
            filename (str): The checkpoint's file name.
            what (str): ``'checkpoint'`` or ``'new best checkpoint'``.
            intact (str): What is intact if the write fails, for the
                message.
            iteration (int): The iteration it saves, for the message.
            **kwargs: Passed on to ``runner.save_checkpoint``.
        """
        final = osp.join(self.out_dir, filename)
        if not self._atomic():
            runner.save_checkpoint(self.out_dir, filename, **kwargs)
            return
        partial_name = f'.{filename}{PARTIAL_SUFFIX}'
        partial = osp.join(self.out_dir, partial_name)
        try:
            # saves on the main process only (mmengine's master_only)
            runner.save_checkpoint(self.out_dir, partial_name, **kwargs)
            if osp.isfile(partial):
                _fsync(partial)
                os.replace(partial, final)
                _fsync(self.out_dir)
        except OSError as err:
            if osp.isfile(partial):
                os.remove(partial)  # frees the space the part took
            reason = (os.strerror(err.errno) if err.errno in (
                errno.ENOSPC, errno.EDQUOT, errno.EACCES, errno.EROFS) else
                      str(err))
            raise CheckpointWriteError(
                f'writing the {what} {final} failed at iteration '
                f'{iteration}: {reason}. Nothing was lost: {intact} (the '
                'partial file was removed). Free space (or fix the cause) '
                'and continue with --resume') from None

    def _intact(self, runner, best: Optional[str] = None) -> str:
        last = osp.join(runner.work_dir, 'last_checkpoint')
        latest = None
        if osp.isfile(last):
            with open(last) as f:
                latest = f.read().strip() or None
        text = (f'the last complete checkpoint {latest} is intact'
                if latest else 'no earlier checkpoint existed')
        best = best if best is not None else self.best_ckpt_path
        if best and osp.isfile(best):
            text += f', and so is the best checkpoint {best}'
        return text

    def _write_text(self, path: str, text: str) -> None:
        partial = osp.join(
            osp.dirname(path), f'.{osp.basename(path)}{PARTIAL_SUFFIX}')
        with open(partial, 'w') as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(partial, path)

    def _remove(self, path: Optional[str]) -> None:
        if not path or not is_main_process():
            return
        if self.file_backend.isfile(path):
            self.file_backend.remove(path)
        elif self.file_backend.isdir(path):
            # checkpoints saved by deepspeed are directories
            self.file_backend.rmtree(path)

    # ------------------------------------------- mmengine's logic, reordered
    def _save_checkpoint_with_step(self, runner, step, meta) -> None:
        """As mmengine, but the oldest kept checkpoint is removed after the
        new one is written."""
        outdated = None
        if self.max_keep_ckpts > 0:
            # _save_checkpoint and _save_best_checkpoint may both call this
            # in one step
            if not (self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step):
                if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                    outdated = self.keep_ckpt_ids.popleft()
                self.keep_ckpt_ids.append(step)
                runner.message_hub.update_info('keep_ckpt_ids',
                                               list(self.keep_ckpt_ids))
        ckpt_filename = self.filename_tmpl.format(step)
        intact = self._intact(runner)
        self.last_ckpt = self.file_backend.join_path(self.out_dir,
                                                     ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        self._write(
            runner,
            ckpt_filename,
            'checkpoint',
            intact,
            meta.get('iter', step),
            file_client_args=self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args)
        # Model parallel-like training pulls sharded states from all ranks;
        # only the main process writes files.
        if not is_main_process():
            return
        self._write_text(
            osp.join(runner.work_dir, 'last_checkpoint'), self.last_ckpt)
        if outdated is not None and outdated != step:
            self._remove(
                self.file_backend.join_path(self.out_dir,
                                            self.filename_tmpl.format(
                                                outdated)))

    def _save_best_checkpoint(self, runner, metrics) -> None:
        """As mmengine, but the previous best is removed after the new best
        is written; a failed write leaves the previous best recorded."""
        if not self.save_best:
            return
        if self.by_epoch:
            ckpt_filename = self.filename_tmpl.format(runner.epoch)
            cur_type, cur_time = 'epoch', runner.epoch
        else:
            ckpt_filename = self.filename_tmpl.format(runner.iter)
            cur_type, cur_time = 'iter', runner.iter
        meta = dict(epoch=runner.epoch, iter=runner.iter)
        if 'auto' in self.key_indicators:
            self._init_rule(self.rules, [list(metrics.keys())[0]])

        best_ckpt_updated = False
        hub = runner.message_hub
        for key_indicator, rule in zip(self.key_indicators, self.rules):
            key_score = metrics[key_indicator]
            single = len(self.key_indicators) == 1
            if single:
                best_score_key, best_ckpt_key = 'best_score', 'best_ckpt'
                previous = self.best_ckpt_path
            else:
                best_score_key = f'best_score_{key_indicator}'
                best_ckpt_key = f'best_ckpt_{key_indicator}'
                previous = self.best_ckpt_path_dict[key_indicator]
            had_score = best_score_key in hub.runtime_info
            best_score = (
                hub.get_info(best_score_key)
                if had_score else self.init_value_map[rule])
            if key_score is None or not self.is_better_than[key_indicator](
                    key_score, best_score):
                continue
            best_ckpt_updated = True
            best_ckpt_name = f'best_{key_indicator}_{ckpt_filename}'.replace(
                '/', '_')
            new_path = self.file_backend.join_path(self.out_dir,
                                                   best_ckpt_name)
            had_path = best_ckpt_key in hub.runtime_info
            old_path_info = hub.get_info(best_ckpt_key)
            # the new best checkpoint records itself as the best
            hub.update_info(best_score_key, key_score)
            hub.update_info(best_ckpt_key, new_path)
            self._set_best_path(key_indicator, single, new_path)
            try:
                self._write(
                    runner,
                    best_ckpt_name,
                    'new best checkpoint',
                    self._intact(runner, best=previous),
                    runner.iter,
                    file_client_args=self.file_client_args,
                    save_optimizer=False,
                    save_param_scheduler=False,
                    meta=meta,
                    by_epoch=False,
                    backend_args=self.backend_args)
            except BaseException:
                # the previous best stays the best, on disk and on record
                self._set_best_path(key_indicator, single, previous)
                if had_score:
                    hub.update_info(best_score_key, best_score)
                else:
                    hub.runtime_info.pop(best_score_key, None)
                if had_path:
                    hub.update_info(best_ckpt_key, old_path_info)
                else:
                    hub.runtime_info.pop(best_ckpt_key, None)
                raise
            if previous and previous != new_path:
                self._remove(previous)
                runner.logger.info(
                    f'The previous best checkpoint {previous} is removed')
            runner.logger.info(
                f'The best checkpoint with {key_score:0.4f} {key_indicator} '
                f'at {cur_time} {cur_type} is saved to {best_ckpt_name}.')

        # save the last checkpoint again so that it records the new best
        # (mmengine does the same: a resume must know which file to remove)
        if best_ckpt_updated and self.last_ckpt is not None:
            self._save_checkpoint_with_step(runner, cur_time, meta)

    def _set_best_path(self, key_indicator: str, single: bool,
                       path: Optional[str]) -> None:
        if single:
            self.best_ckpt_path = path
        else:
            self.best_ckpt_path_dict[key_indicator] = path
