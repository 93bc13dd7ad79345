"""tools/dist_train.sh with 2 CPU processes (gloo): trains to the end and
exits 0, the two ranks agree, and the configured total batch is split
between them (the log says so)."""
import glob
import os
import os.path as osp
import socket
import subprocess

from tiny_configs import ROOT, write_tiny_config


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def test_dist_train_two_cpu_processes(tiny_acdc_root, tmp_path):
    config = write_tiny_config('configs/demo/aigcmatch_demo_3case.py',
                               tiny_acdc_root, str(tmp_path), max_iters=3,
                               interval=3, batch_size=4)
    work_dir = str(tmp_path / 'work')
    env = dict(os.environ, PORT=str(free_port()), OMP_NUM_THREADS='1')
    proc = subprocess.run(
        ['bash', 'tools/dist_train.sh', config, '2', '--work-dir', work_dir],
        cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert 'Distributed training: True' in out
    # 4 + 4 per step in total, as on one process: 2 + 2 on each of the two
    assert ("world size 2; batch per process 2 labeled + 2 unlabeled; total "
            "batch per step 4 labeled + 4 unlabeled (batch_size_scope="
            "'total'); lr 0.01 (auto_scale_lr off)") in out, out[-4000:]
    assert osp.isfile(osp.join(work_dir, 'iter_3.pth'))
    assert glob.glob(osp.join(work_dir, 'best_mDice_iter_3.pth'))
    # gloo on CPU: no CUDA device was asked for, SyncBN never built
    assert 'set_device' not in out and 'Traceback' not in out
