"""tools/analysis/paired_runs.py: two benchmark work roots paired seed by
seed, several roots read as one side, and the errors on bad sides."""
import csv
import os

import pytest

from projects.aigcmatch.utils import UserError
from script_loader import load_script

paired = load_script('tools/analysis/paired_runs.py')
main, parse_side = paired.main, paired.parse_side

FIELDS = ('dataset', 'method', 'seed', 'test_mDice', 'val_mDice',
          'test_Dice_LV', 'test_Dice_cortex')


def write_root(path, runs):
    """runs: (dataset, method, seed, test_mDice); runs.csv as the benchmark
    writes it (the other dataset's class columns empty)."""
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, 'runs.csv'), 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        writer.writeheader()
        for dataset, method, seed, value in runs:
            lv = value - 1 if dataset == 'synthetic' else ''
            cortex = value + 1 if dataset == 'colin27_aal' else ''
            writer.writerow(
                dict(dataset=dataset, method=method, seed=seed,
                     test_mDice=value, val_mDice=value - 5,
                     test_Dice_LV=lv, test_Dice_cortex=cortex))
    return str(path)


def aigc(dataset, *values):
    """AIGCMatch runs of seeds 0, 1, ... with these test mDice values."""
    return [(dataset, 'aigcmatch', seed, v) for seed, v in enumerate(values)]


@pytest.fixture
def roots(tmp_path):
    variant = write_root(
        tmp_path / 'variant',
        aigc('synthetic', 80.0, 82.0, 84.0) + aigc('colin27_aal', 50.0, 40.0)
        + [('synthetic', 'aigcmatch', 7, 90.0)])
    default = write_root(
        tmp_path / 'default',
        aigc('synthetic', 79.0, 80.0) + aigc('colin27_aal', 45.0, 45.0)
        + [('synthetic', 'unimatch', 0, 70.0)])
    fresh = write_root(tmp_path / 'fresh',
                       [('synthetic', 'aigcmatch', 2, 81.0)])
    return variant, default, fresh


def row(out, dataset):
    """The table row of ``dataset``'s section."""
    section = out.split(f'### {dataset}:')[1].split('###')[0]
    return [line for line in section.splitlines()
            if line.startswith('| 0')][0]


def test_pairs_the_common_seeds_of_several_roots(roots, capsys):
    variant, default, fresh = roots
    main([variant, f'{default},{fresh}:aigcmatch'])
    out = capsys.readouterr().out
    # synthetic: seeds 0, 1 from one root and 2 from another; differences
    # +1, +2, +3 -> mean 2, s.e. 1 / sqrt(3) = 0.58: separated
    assert row(out, 'synthetic') == (
        '| 0,1,2 | 82.00 ± 1.15 | 80.00 ± 0.58 | **2.00 ± 0.58** | 3/3 | '
        '+1.0, +2.0, +3.0 | separated |')
    assert 'not paired: seeds [7] of aigcmatch (A) only' in out
    # real set: +5, -5 -> not separated
    assert row(out, 'colin27_aal') == (
        '| 0,1 | 45.00 ± 5.00 | 45.00 ± 0.00 | **0.00 ± 5.00** | 1/2 | '
        '+5.0, -5.0 | not separated |')


def test_seeds_and_metric_options(roots, capsys):
    variant, default, fresh = roots
    main([variant, f'{default}:aigcmatch', '--seeds', '1',
          '--metric', 'test_Dice_LV'])
    out = capsys.readouterr().out
    assert '### synthetic: test_Dice_LV' in out
    assert ('| 1 | 81.00 | 79.00 | **2.00** | 1/1 | +2.0 | not separated |'
            in out)
    assert 'colin27_aal' not in out  # no LV there: no section


def test_a_method_against_another(roots, capsys):
    variant, default, _ = roots
    main([f'{variant}:aigcmatch', f'{default}:unimatch', '--seeds', '0'])
    out = capsys.readouterr().out
    assert 'A = aigcmatch, B = unimatch' in out
    assert '| +10.0 |' in out
    assert 'no seed run by both sides' in out  # unimatch has no real run


@pytest.mark.parametrize('side, message', [
    ('{missing}', r'missing/runs\.csv not found'),
    ('{default}', r'several methods \(aigcmatch, unimatch\); name one, '
     r'e\.g\. .*default:aigcmatch'),
    ('{default}:fixmatch', r"no run of method 'fixmatch' \(the runs hold "
     r'aigcmatch, unimatch\)'),
    ('{default},{clash}:aigcmatch', r'synthetic seed 0 of aigcmatch is in '
     r'both .*default/runs\.csv \(79\.00\) and .*clash/runs\.csv \(60\.00\)'),
])
def test_bad_sides_are_named(roots, tmp_path, side, message):
    variant, default, _ = roots
    clash = write_root(tmp_path / 'clash', [('synthetic', 'aigcmatch', 0,
                                             60.0)])
    side = side.format(missing=tmp_path / 'missing', default=default,
                       clash=clash)
    with pytest.raises(UserError, match=message):
        main([variant, side])


def test_a_missing_metric_column_is_named(roots):
    variant, default, _ = roots
    with pytest.raises(UserError, match=r"has no column 'test_Dice_RV'"):
        main([variant, f'{default}:aigcmatch', '--metric', 'test_Dice_RV'])


def test_side_syntax(tmp_path):
    assert parse_side('a,b:uni') == (['a', 'b'], 'uni')
    assert parse_side('a') == (['a'], '')
    folder = tmp_path / 'odd:name'
    folder.mkdir()
    assert parse_side(str(folder)) == ([str(folder)], '')
