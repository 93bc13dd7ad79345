"""A kill or a full disk while a checkpoint is written never loses the
previous one: the previous best stays intact and recorded as the best, the
last complete checkpoint stays the one to resume, and a full disk is one
line naming the file (tools/train.py, AtomicCheckpointHook)."""
import os
import os.path as osp
import signal

import pytest
from mmengine.config import Config

from projects.aigcmatch.compat import safe_load_checkpoint
from projects.aigcmatch.utils import ensure_atomic_checkpoints

from reliability_helpers import run_tool, tiny_config, write_config

MAX_ITERS = 6


def faulty_config(small_acdc, base, max_keep_ckpts=2):
    """Checkpoint and validation every 2 iterations; every validation is a
    new best ``score`` (the iteration), written as best_score_iter_N.pth."""
    cfg = tiny_config(
        small_acdc,
        work_dir=str(base / 'work'),
        max_iters=MAX_ITERS,
        checkpoint_interval=2,
        val_interval=2,
        extra_custom_imports=['checkpoint_faults'])
    cfg.val_evaluator = dict(type='IterationScore')
    cfg.test_evaluator = dict(type='IterationScore')
    cfg.default_hooks.checkpoint.save_best = 'score'
    cfg.default_hooks.checkpoint.max_keep_ckpts = max_keep_ckpts
    return write_config(cfg, str(base / 'faulty.py')), str(base / 'work')


def train(config, fault=None, resume=False):
    args = ['tools/train.py', config] + (['--resume'] if resume else [])
    return run_tool(*args, env=dict(AIGCMATCH_CKPT_FAULT=fault or ''))


def record(path):
    info = safe_load_checkpoint(path)['message_hub']['runtime_info']
    return info.get('best_ckpt'), info.get('best_score')


def last_checkpoint(work_dir):
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


def files(work_dir):
    return sorted(f for f in os.listdir(work_dir) if f.endswith('.pth') or
                  f.endswith('.writing'))


def assert_intact(path):
    ckpt = safe_load_checkpoint(path)  # complete: it loads
    assert ckpt['state_dict'] and 'meta' in ckpt


def test_kill_while_the_new_best_is_written_keeps_the_previous_best(
        small_acdc, tmp_path):
    config, work = faulty_config(small_acdc, tmp_path)
    # the 2nd best write (iteration 4) is killed half-way
    proc = train(config, fault='kill:best_:2')
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    best2 = osp.join(work, 'best_score_iter_2.pth')
    assert files(work) == [
        '.best_score_iter_4.pth.writing', 'best_score_iter_2.pth',
        'iter_2.pth', 'iter_4.pth'
    ]
    assert_intact(best2)
    # named: the checkpoint to resume records it as the best
    assert last_checkpoint(work) == osp.join(work, 'iter_4.pth')
    assert record(osp.join(work, 'iter_4.pth')) == record(best2)
    assert record(best2)[0] == best2

    proc = train(config, resume=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'a checkpoint whose write was interrupted' in proc.stdout + \
        proc.stderr
    best6 = osp.join(work, 'best_score_iter_6.pth')
    assert files(work) == ['best_score_iter_6.pth', 'iter_4.pth',
                           'iter_6.pth']
    assert record(osp.join(work, 'iter_6.pth')) == record(best6)
    assert record(best6)[0] == best6


def test_full_disk_while_the_new_best_is_written_is_one_line(
        small_acdc, tmp_path):
    config, work = faulty_config(small_acdc, tmp_path)
    proc = train(config, fault='enospc:best_:2')
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert 'Traceback' not in proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith('error')]
    best2 = osp.join(work, 'best_score_iter_2.pth')
    assert errors == [
        f'error: writing the new best checkpoint '
        f'{osp.join(work, "best_score_iter_4.pth")} failed at iteration 4: '
        'No space left on device. Nothing was lost: the last complete '
        f'checkpoint {osp.join(work, "iter_4.pth")} is intact, and so is the '
        f'best checkpoint {best2} (the partial file was removed). Free space '
        '(or fix the cause) and continue with --resume'
    ]
    assert files(work) == ['best_score_iter_2.pth', 'iter_2.pth',
                           'iter_4.pth']
    assert_intact(best2)
    assert record(osp.join(work, 'iter_4.pth')) == record(best2)
    assert record(best2)[0] == best2


def test_full_disk_while_an_iteration_checkpoint_is_written(
        small_acdc, tmp_path):
    config, work = faulty_config(small_acdc, tmp_path, max_keep_ckpts=1)
    # iter_2.pth is written twice (again after its new best): the 3rd write
    # is iter_4.pth
    proc = train(config, fault='enospc:iter_:3')
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert 'Traceback' not in proc.stderr
    assert (f'error: writing the checkpoint {osp.join(work, "iter_4.pth")} '
            'failed at iteration 4: No space left on device. Nothing was '
            'lost: the last complete checkpoint '
            f'{osp.join(work, "iter_2.pth")} is intact, and so is the best '
            f'checkpoint {osp.join(work, "best_score_iter_2.pth")}'
            ) in proc.stderr
    # max_keep_ckpts=1: mmengine would have removed iter_2 before writing
    assert files(work) == ['best_score_iter_2.pth', 'iter_2.pth']
    assert last_checkpoint(work) == osp.join(work, 'iter_2.pth')
    assert_intact(osp.join(work, 'iter_2.pth'))


def test_kill_while_the_only_kept_checkpoint_is_replaced(small_acdc, tmp_path):
    config, work = faulty_config(small_acdc, tmp_path, max_keep_ckpts=1)
    proc = train(config, fault='kill:iter_:3')
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    assert files(work) == [
        '.iter_4.pth.writing', 'best_score_iter_2.pth', 'iter_2.pth'
    ]
    assert last_checkpoint(work) == osp.join(work, 'iter_2.pth')
    proc = train(config, resume=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert files(work) == ['best_score_iter_6.pth', 'iter_6.pth']


def test_train_tool_upgrades_mmengines_checkpoint_hook():
    cfg = Config(
        dict(default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=5))))
    assert 'AtomicCheckpointHook' in ensure_atomic_checkpoints(cfg)
    assert cfg.default_hooks.checkpoint == dict(
        type='AtomicCheckpointHook', interval=5)
    assert ensure_atomic_checkpoints(cfg) is None


@pytest.mark.parametrize('config', [
    'configs/aigcmatch_acdc_7case.py', 'configs/demo/aigcmatch_demo_3case.py',
    'configs/supbaseline_acdc_1case.py'
])
def test_shipped_configs_write_checkpoints_atomically(config):
    from reliability_helpers import ROOT
    cfg = Config.fromfile(osp.join(ROOT, config))
    assert cfg.default_hooks.checkpoint.type == 'AtomicCheckpointHook'
