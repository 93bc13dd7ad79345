"""tools/dist_test.sh with 2 gloo processes gives the metrics of
tools/test.py with one."""
import csv
import json
import os.path as osp
import socket

import torch
from mmseg.registry import MODELS

from reliability_helpers import (run_tool, tiny_config, write_config,
                                 write_split)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def read_results(out_dir):
    with open(osp.join(out_dir, 'metrics_summary.json')) as f:
        summary = json.load(f)
    with open(osp.join(out_dir, 'per_case_metrics.csv')) as f:
        per_case = list(csv.reader(f))
    return summary, per_case


def test_two_processes_match_one(small_acdc, tmp_path):
    # 4 volumes of 2-3 slices: an odd slice count, so the sampler pads
    split = write_split(
        str(tmp_path / 'eval.txt'), ['patient004', 'patient005'])
    cfg = tiny_config(small_acdc, work_dir=str(tmp_path / 'unused'))
    cfg.test_dataloader.dataset.split = split
    # mmcv's large initial weights make a random head's prediction varied,
    # so every class has a score (PyTorch's smaller ones predict one class)
    cfg.model.conv_init = 'kaiming'
    config = write_config(cfg, str(tmp_path / 'eval.py'))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    ckpt = str(tmp_path / 'model.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)

    single = run_tool('tools/test.py', config, ckpt, '--work-dir',
                      str(tmp_path / 'w1'), '--out', str(tmp_path / 'one'))
    assert single.returncode == 0, single.stderr[-3000:]
    # from tmp_path: mmengine's CPU result gathering writes into the cwd
    dist = run_tool(
        'bash',
        osp.join(osp.dirname(osp.dirname(osp.dirname(__file__))), 'tools',
                 'dist_test.sh'),
        config,
        ckpt,
        '2',
        '--work-dir',
        str(tmp_path / 'w2'),
        '--out',
        str(tmp_path / 'two'),
        env=dict(PORT=str(free_port())),
        cwd=str(tmp_path))
    assert dist.returncode == 0, dist.stderr[-3000:]
    assert 'Distributed training: True' in dist.stdout
    assert osp.isdir(tmp_path / '.dist_test')  # results gathered over ranks

    one, one_cases = read_results(tmp_path / 'one')
    two, two_cases = read_results(tmp_path / 'two')
    assert two == one
    assert two_cases == one_cases
    assert one['protocol']['num_cases'] == 4
    assert one['metrics']['mDice'] > 0 and one['metrics']['mHD95'] > 0
