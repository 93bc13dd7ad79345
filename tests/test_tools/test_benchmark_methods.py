"""tools/benchmark_methods.py: paired statistics, the report, and a tiny
end-to-end run (2 methods x 2 seeds, 2 iterations each) on the tiny tree."""
import csv
import math
import os.path as osp

import pytest

from projects.aigcmatch.utils import UserError
from tools.benchmark_methods import (ABLATIONS, CONFIG_DIR, DATASETS, METHODS,
                                     main,
                                     mean_se, paired_difference, report)


def test_mean_and_standard_error():
    mean, se = mean_se([1.0, 2.0, 3.0, 4.0])
    assert mean == 2.5
    assert se == pytest.approx(math.sqrt(5 / 3) / 2)  # std / sqrt(n)
    assert mean_se([7.0]) == (7.0, None)
    assert math.isnan(mean_se([])[0])


def test_paired_difference_uses_common_seeds_only():
    a = {0: 60.0, 1: 70.0, 2: 65.0, 3: 50.0}
    b = {0: 50.0, 1: 61.0, 2: 53.0}  # seed 3 missing
    d = paired_difference(a, b)
    assert d['seeds'] == [0, 1, 2]
    assert d['per_seed'] == [10.0, 9.0, 12.0]
    assert d['mean'] == pytest.approx(31 / 3)
    assert d['se'] == pytest.approx(math.sqrt(7 / 3) / math.sqrt(3))
    assert d['wins'] == 3 and d['separated']
    # Paired: a large seed effect shared by both methods cancels.
    noisy = paired_difference({0: 20.0, 1: 80.0}, {0: 19.0, 1: 79.5})
    assert noisy['mean'] == 0.75 and noisy['separated']
    flip = paired_difference({0: 60.0, 1: 50.0}, {0: 50.0, 1: 60.0})
    assert flip['mean'] == 0 and not flip['separated']
    assert paired_difference({0: 1.0}, {1: 1.0}) is None
    assert not paired_difference({0: 2.0}, {0: 1.0})['separated']  # 1 seed


def row(method, seed, mdice, dataset='synthetic'):
    return dict(dataset=dataset, method=method, seed=seed, test_mDice=mdice,
                test_Dice_RV=mdice - 1, test_Dice_LV=mdice + 1)


def test_report_tables_and_verdicts():
    rows = [row('sup', s, v) for s, v in enumerate((50.0, 52.0, 54.0))]
    rows += [row('semi', s, v) for s, v in enumerate((55.0, 58.0, 59.0))]
    text, diffs = report(rows, [('semi', 'sup'), ('semi', 'absent')],
                         [0, 1, 2])
    assert '| method | RV | LV | mDice | per seed |' in text
    assert '| sup | 51.00 ± 1.15 | 53.00 ± 1.15 | **52.00 ± 1.15** | ' \
        '50.0, 52.0, 54.0 |' in text
    assert '| semi − sup | 5.33 ± 0.33 | 3/3 | +5.0, +6.0, +5.0 | ' \
        'separated |' in text
    assert [(d['a'], d['b']) for d in diffs] == [('semi', 'sup')]


def test_every_benchmark_config_exists():
    for dataset in DATASETS:
        for method in METHODS + ABLATIONS:
            assert osp.isfile(osp.join(CONFIG_DIR, dataset, f'{method}.py'))


def test_bad_arguments(tmp_path):
    with pytest.raises(UserError, match="unknown \\['mnist'\\]"):
        main(['--datasets', 'mnist'])
    with pytest.raises(UserError, match='no benchmark config'):
        main(['--datasets', 'synthetic', '--methods', 'nosuch', '--data',
              f'synthetic={tmp_path}', '--work-root', str(tmp_path / 'w')])
    with pytest.raises(UserError, match='DATASET=PATH'):
        main(['--data', 'synthetic'])
    with pytest.raises(SystemExit):
        main(['--compare', 'unimatch'])  # not an A-B pair


def test_end_to_end_on_the_tiny_tree(tiny_acdc_root, tmp_path, capsys):
    work = tmp_path / 'bench'
    argv = [
        '--datasets', 'synthetic', '--methods', 'supbaseline', '--seeds',
        '0,1', '--jobs', '2', '--data', f'synthetic={tiny_acdc_root}',
        '--work-root', str(work), '--cfg-options', 'train_cfg.max_iters=2',
        'param_scheduler.0.end=2', 'train_cfg.val_interval=1'
    ]
    main(argv)
    out = capsys.readouterr().out
    assert 'synthetic: test Dice (%), checkpoint selected on val' in out
    assert '| supbaseline |' in out
    with open(work / 'runs.csv') as f:
        runs = list(csv.DictReader(f))
    assert sorted((r['method'], r['seed']) for r in runs) == [
        ('supbaseline', '0'), ('supbaseline', '1')]
    for r in runs:
        assert 0 <= float(r['test_mDice']) <= 100
        assert r['best_iter'] in ('1', '2')  # selected on val
        assert osp.isfile(osp.join(r['work_dir'], 'test_results',
                                   'metrics_summary.json'))
    assert (work / 'differences.csv').is_file()
    assert (work / 'summary.md').read_text().startswith('### synthetic')
    # A second call reuses the finished runs (no retraining).
    main(argv)
    again = capsys.readouterr().out
    assert again.count('; 0 s)') == 2
