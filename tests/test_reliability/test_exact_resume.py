"""kill -9 during training, then --resume: the run goes on as if it had never
stopped (iteration, lr, losses, best-checkpoint record), and nothing the user
wants from the first run is overwritten. Also: a crafted checkpoint is
refused before anything loads it."""
import os
import os.path as osp
import pickle
import re
import signal
import subprocess
import sys
import time

import pytest
import torch

from projects.aigcmatch.compat import safe_load_checkpoint

from reliability_helpers import (ROOT, read_scalars, run_dirs, run_tool,
                                 tiny_config, write_config)

MAX_ITERS = 7
# Not 2: a loader worker prefetches 2 batches, so a resume after iteration 2
# would meet the uninterrupted run's worker random state by coincidence, and
# the test could not tell per-sample seeding from luck.
CKPT_INTERVAL = 3
STALL_AT = 4  # killed after iteration 4: one trained iteration is lost


def _train_until_stalled(config: str, work_dir: str) -> int:
    env = dict(
        os.environ,
        OMP_NUM_THREADS='1',
        AIGCMATCH_STALL_AT=str(STALL_AT),
        PYTHONPATH=os.pathsep.join(
            p for p in (ROOT, osp.dirname(osp.abspath(__file__)),
                        os.environ.get('PYTHONPATH')) if p))
    proc = subprocess.Popen([sys.executable, 'tools/train.py', config],
                            cwd=ROOT,
                            env=env,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE,
                            text=True)
    deadline = time.time() + 180
    try:
        while not osp.exists(osp.join(work_dir, 'stalled')):
            if proc.poll() is not None:
                pytest.fail(f'training ended before the kill: '
                            f'{proc.stderr.read()[-3000:]}')
            if time.time() > deadline:
                pytest.fail('training did not reach the kill point in time')
            time.sleep(0.1)
        os.kill(proc.pid, signal.SIGKILL)
        return proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stderr.close()


def _runtime_info(checkpoint_path: str) -> dict:
    return safe_load_checkpoint(checkpoint_path)['message_hub'][
        'runtime_info']


@pytest.fixture(scope='module')
def runs(small_acdc, tmp_path_factory):
    """A reference run, and a run killed after iteration 4 (last checkpoint:
    iteration 3) then resumed, with the same config and seed."""
    base = tmp_path_factory.mktemp('resume')
    cfg = tiny_config(
        small_acdc,
        work_dir=str(base / 'killed'),
        max_iters=MAX_ITERS,
        checkpoint_interval=CKPT_INTERVAL,
        val_interval=CKPT_INTERVAL,
        num_workers=1,
        extra_custom_imports=['stall_hook'],
        extra_hooks=[dict(type='StallHook')])
    # Every pixel confident: the strong views, CutMix and the FP branch all
    # reach the loss, so each random stream shows in the compared values.
    cfg.model.conf_thresh = 0.0
    config = write_config(cfg, str(base / 'tiny_aigcmatch.py'))
    ref_dir, killed_dir = str(base / 'reference'), str(base / 'killed')

    ref = run_tool('tools/train.py', config, '--work-dir', ref_dir)
    assert ref.returncode == 0, ref.stderr[-3000:]

    returncode = _train_until_stalled(config, killed_dir)
    first_run = run_dirs(killed_dir)
    first_logs = {
        path: open(path, 'rb').read()
        for d in first_run for path in (osp.join(d, 'vis_data',
                                                 'scalars.json'),
                                        osp.join(d,
                                                 osp.basename(d) + '.log'))
    }
    with open(osp.join(killed_dir, 'last_checkpoint')) as f:
        last_before = f.read().strip()

    resumed = run_tool('tools/train.py', config, '--resume')
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    return dict(
        ref_dir=ref_dir,
        killed_dir=killed_dir,
        kill_returncode=returncode,
        first_run=first_run,
        first_logs=first_logs,
        last_before=last_before,
        config=config)


def test_killed_by_sigkill_after_a_checkpoint(runs):
    assert runs['kill_returncode'] == -signal.SIGKILL
    assert osp.basename(runs['last_before']) == f'iter_{CKPT_INTERVAL}.pth'


def test_resume_continues_iteration_lr_and_losses_exactly(runs):
    reference = read_scalars(run_dirs(runs['ref_dir'])[0])
    first, resumed_dir = run_dirs(runs['killed_dir'])
    killed, resumed = read_scalars(first), read_scalars(resumed_dir)
    assert sorted(reference) == list(range(1, MAX_ITERS + 1))
    # The resumed run starts right after the checkpoint (iteration 3), so
    # iteration 4, trained but lost by the kill, is trained again.
    assert sorted(resumed) == list(range(CKPT_INTERVAL + 1, MAX_ITERS + 1))
    loss_keys = [k for k in reference[1] if k.startswith('loss')]
    assert {'loss_x_ce', 'loss_s1', 'loss_s2', 'loss_fp'} <= set(loss_keys)
    for step in resumed:
        for key in loss_keys + ['lr']:
            assert resumed[step][key] == reference[step][key], (step, key)
    for step in killed:
        assert killed[step]['loss'] == reference[step]['loss']
    # the losses move, so equality above is not a constant being compared
    assert len({reference[s]['loss'] for s in reference}) == MAX_ITERS


def test_first_run_logs_are_kept(runs):
    dirs = run_dirs(runs['killed_dir'])
    assert len(dirs) == 2 and dirs[0] == runs['first_run'][0]
    for path, content in runs['first_logs'].items():
        with open(path, 'rb') as f:
            assert f.read() == content, path
    assert read_scalars(dirs[0])  # the first run's training log is there


def test_best_checkpoint_record_survives_resume(runs):
    final = f'iter_{MAX_ITERS}.pth'
    ref_info = _runtime_info(osp.join(runs['ref_dir'], final))
    resumed_info = _runtime_info(osp.join(runs['killed_dir'], final))
    assert resumed_info['best_score'] == ref_info['best_score']
    assert (osp.basename(resumed_info['best_ckpt']) == osp.basename(
        ref_info['best_ckpt']))
    assert osp.isfile(resumed_info['best_ckpt'])
    best_files = [
        f for f in os.listdir(runs['killed_dir']) if f.startswith('best_')
    ]
    assert best_files == [osp.basename(resumed_info['best_ckpt'])]


def test_checkpoints_hold_weights_only_random_states(runs):
    path = osp.join(runs['killed_dir'], f'iter_{MAX_ITERS}.pth')
    # Plain weights-only loading, without the compat allow-list.
    states = torch.load(path, weights_only=True)['random_states']
    assert states['torch'].dtype == torch.uint8
    assert states['numpy']['keys'].shape == (624, )
    assert states['python']['internal'].shape == (625, )


class _PickledCallable:

    def __reduce__(self):
        return (print, ('this must never run',))


def test_resume_refuses_a_crafted_checkpoint(small_acdc, tmp_path):
    config = write_config(
        tiny_config(small_acdc, work_dir=str(tmp_path / 'unused')),
        str(tmp_path / 'tiny_aigcmatch.py'))
    work_dir = tmp_path / 'crafted'
    work_dir.mkdir()
    bad = str(work_dir / 'iter_2.pth')
    torch.save(
        {
            'meta': {
                'iter': 2
            },
            'state_dict': {},
            'x': _PickledCallable()
        }, bad)
    (work_dir / 'last_checkpoint').write_text(bad)
    proc = run_tool('tools/train.py', config, '--work-dir',
                    str(work_dir), '--resume')
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert 'Traceback' not in proc.stderr
    assert f'error: checkpoint {bad}: refusing to load it' in proc.stderr
    assert re.search(r'GLOBAL (builtins\.)?print', proc.stderr)
    assert 'this must never run' not in proc.stdout + proc.stderr
    with pytest.raises(pickle.UnpicklingError, match='refusing to load it'):
        safe_load_checkpoint(bad)
