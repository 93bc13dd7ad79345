import pytest

import argparse

from tools.sweep import _seed_list, fmt, parse_runs


def test_runs_are_name_config_then_options():
    runs = parse_runs([
        'a=configs/demo/aigcmatch_demo_3case.py', 'b=configs/x.py',
        'model.conf_thresh=0.9', 'train_cfg.max_iters=10'
    ])
    assert [r['name'] for r in runs] == ['a', 'b']
    assert runs[0]['options'] == []
    assert runs[1]['options'] == ['model.conf_thresh=0.9',
                                  'train_cfg.max_iters=10']


def test_bad_run_lists():
    with pytest.raises(SystemExit, match='comes before any NAME=CONFIG'):
        parse_runs(['model.conf_thresh=0.9'])
    with pytest.raises(SystemExit, match='run names repeat'):
        parse_runs(['a=x.py', 'a=y.py'])


def test_mean_and_std_formatting():
    assert fmt([80.0]) == '80.00'
    assert fmt([80.0, 82.0]) == '81.00 ± 1.41'
    assert fmt([None]) == 'n/a'


def test_seed_lists():
    assert _seed_list('0,1,2') == [0, 1, 2]
    with pytest.raises(argparse.ArgumentTypeError, match='comma-separated'):
        _seed_list('0 1')
    with pytest.raises(argparse.ArgumentTypeError, match='distinct'):
        _seed_list('0,1,0')
