"""tools/train.py, --resume, tools/test.py and mmseg's own test tool, end to
end on a tiny generated ACDC tree (subprocesses, as a user runs them)."""
import glob
import json
import os
import os.path as osp
import re
import subprocess
import sys

import pytest

from tiny_configs import ROOT, write_tiny_config


def run(args, timeout=600, env=None):
    full_env = dict(os.environ, PYTHONPATH=ROOT, **(env or {}))
    proc = subprocess.run(
        args, cwd=ROOT, capture_output=True, text=True, timeout=timeout,
        env=full_env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def last_scalars(work_dir):
    logs = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                     'scalars.json')))
    records = []
    for log in logs:
        with open(log) as f:
            records += [json.loads(line) for line in f if line.strip()]
    return records


def latest_checkpoint(work_dir):
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        return f.read().strip()


@pytest.fixture(scope='module')
def trained(tiny_acdc_root, tmp_path_factory):
    """AIGCMatch trained 4 iterations with tools/train.py."""
    tmp = tmp_path_factory.mktemp('train')
    config = write_tiny_config('configs/demo/aigcmatch_demo_3case.py',
                               tiny_acdc_root, str(tmp), max_iters=4,
                               interval=2)
    work_dir = str(tmp / 'work')
    run([sys.executable, 'tools/train.py', config, '--work-dir', work_dir])
    return config, work_dir


def test_train_writes_checkpoints_and_logs_every_loss_term(trained):
    config, work_dir = trained
    assert osp.isfile(osp.join(work_dir, 'iter_4.pth'))
    assert glob.glob(osp.join(work_dir, 'best_mDice_iter_*.pth'))
    train_logs = [r for r in last_scalars(work_dir) if 'loss' in r]
    assert [r['iter'] for r in train_logs] == [1, 2, 3, 4]
    for key in ('loss_x_ce', 'loss_x_dice', 'loss_s1', 'loss_s2', 'loss_fp',
                'conf_ratio', 'att_entropy', 'unsup_scale'):
        assert all(key in r for r in train_logs), key
    assert all(r['loss'] == r['loss'] for r in train_logs)  # finite, not NaN


def test_resume_continues_at_the_right_iteration(trained, tmp_path):
    config, work_dir = trained
    # a longer schedule, resumed from iteration 4 of the same work dir
    proc = run([
        sys.executable, 'tools/train.py', config, '--work-dir', work_dir,
        '--resume', '--cfg-options', 'train_cfg.max_iters=6'
    ])
    assert 'resumed' in (proc.stdout + proc.stderr).lower()
    iters = [r['iter'] for r in last_scalars(work_dir) if 'loss' in r]
    assert iters == [1, 2, 3, 4, 5, 6]  # 5 and 6 appended, nothing redone
    assert osp.isfile(osp.join(work_dir, 'iter_6.pth'))


def test_amp_flag_trains_on_a_machine_without_cuda(tiny_acdc_root, tmp_path):
    import torch

    from projects.aigcmatch.compat import cpu_bf16_supported
    if torch.cuda.is_available():
        pytest.skip('checks the CPU fallback of --amp')
    config = write_tiny_config('configs/demo/aigcmatch_demo_3case.py',
                               tiny_acdc_root, str(tmp_path), max_iters=2,
                               interval=2)
    proc = run([
        sys.executable, 'tools/train.py', config, '--amp', '--work-dir',
        str(tmp_path / 'work')
    ])
    wrapper = ('CPUAutocastOptimWrapper'
               if cpu_bf16_supported() else 'OptimWrapper')
    assert (f'optim_wrapper.type: AmpOptimWrapper -> {wrapper}'
            in proc.stdout + proc.stderr)
    losses = [r['loss'] for r in last_scalars(str(tmp_path / 'work'))
              if 'loss' in r]
    assert len(losses) == 2 and all(v == v for v in losses)


def test_fresh_run_refuses_a_work_dir_with_checkpoints(trained):
    config, work_dir = trained
    proc = subprocess.run(
        [sys.executable, 'tools/train.py', config, '--work-dir', work_dir],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert 'already holds checkpoints' in proc.stderr


def test_test_tool_prints_table_and_writes_results(trained, tmp_path):
    config, work_dir = trained
    out = tmp_path / 'results'
    proc = run([
        sys.executable, 'tools/test.py', config,
        latest_checkpoint(work_dir), '--work-dir',
        str(tmp_path / 'test'), '--out',
        str(out)
    ])
    text = proc.stdout + proc.stderr
    assert re.search(r"test split \"test\"", text)
    assert re.search(r'\|\s+RV\s+\|', text) and re.search(r'\|\s+mean\s+\|',
                                                         text)
    summary = json.load(open(out / 'metrics_summary.json'))
    assert 0.0 <= summary['metrics']['mDice'] <= 100.0
    # 20 test patients x 2 frames
    assert summary['protocol']['split'] == 'test'
    assert osp.isfile(out / 'per_case_metrics.csv')
    # prediction maps, as mmseg's --out keeps them: one NIfTI per volume
    maps = sorted(os.listdir(out / 'predictions'))
    assert len(maps) == 40 and maps[0].endswith('_seg.nii.gz')
    # the same --out again is refused: nothing is overwritten
    again = subprocess.run([
        sys.executable, 'tools/test.py', config,
        latest_checkpoint(work_dir), '--out',
        str(out)
    ], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert again.returncode == 2 and 'already holds files' in again.stderr


def test_mmseg_own_test_tool_evaluates_our_checkpoint(trained, tmp_path):
    import mmseg
    mmseg_test = osp.join(osp.dirname(mmseg.__file__), '.mim', 'tools',
                          'test.py')
    config, work_dir = trained
    proc = run([
        sys.executable, mmseg_test, config,
        latest_checkpoint(work_dir), '--work-dir',
        str(tmp_path / 'mmseg_test')
    ])
    text = proc.stdout + proc.stderr
    assert re.search(r'mDice: \d+\.\d+', text), text[-2000:]


def test_mmseg_own_test_tool_follows_a_data_root_override(trained, tmp_path):
    # mmseg's tool merges --cfg-options data_root=... into the top level only
    # and builds mmengine's Runner; the config's test loop re-points the
    # dataset that used it
    import mmseg
    from mmengine.config import Config

    from projects.aigcmatch.utils import apply_cfg_options
    mmseg_test = osp.join(osp.dirname(mmseg.__file__), '.mim', 'tools',
                          'test.py')
    config, work_dir = trained
    cfg = Config.fromfile(config)
    real_root = cfg.data_root
    apply_cfg_options(cfg, {'data_root': str(tmp_path / 'nowhere')})
    moved = str(tmp_path / 'moved.py')
    cfg.dump(moved)
    proc = run([
        sys.executable, mmseg_test, moved,
        latest_checkpoint(work_dir), '--work-dir',
        str(tmp_path / 'mmseg_test'), '--cfg-options', f'data_root={real_root}'
    ])
    text = proc.stdout + proc.stderr
    assert 're-pointed' in text and re.search(r'mDice: \d+\.\d+', text)


def test_test_tool_tta_flips_as_mmseg(trained, tmp_path):
    config, work_dir = trained
    out = tmp_path / 'tta'
    proc = run([
        sys.executable, 'tools/test.py', config,
        latest_checkpoint(work_dir), '--work-dir',
        str(tmp_path / 'test'), '--out', str(out), '--tta'
    ])
    text = proc.stdout + proc.stderr
    assert ('test-time augmentation: 3 views (as is, horizontal flip, '
            'vertical flip), softmax averaged') in text
    summary = json.load(open(out / 'metrics_summary.json'))
    assert 0.0 <= summary['metrics']['mDice'] <= 100.0
    # a config without tta_model is refused with one line
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    cfg.pop('tta_model')
    bare = str(tmp_path / 'bare.py')
    cfg.dump(bare)
    proc = subprocess.run(
        [sys.executable, 'tools/test.py', bare,
         latest_checkpoint(work_dir), '--tta'],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and 'Traceback' not in proc.stderr
    assert 'error: --tta needs tta_model in the config' in proc.stderr
