"""tools/analysis/results_table.py on fake work dirs with known numbers."""
import csv
import json
import os
import os.path as osp
import statistics

import pytest
from script_loader import load_script


PROTOCOL = dict(
    split='test',
    num_cases=40,
    classes=['RV', 'Myo', 'LV'],
    distance_unit='voxel',
    averaging='3D per volume, mean over '
    'volumes per class, then mean over classes')


table = load_script('tools/analysis/results_table.py')


def fake_run(root,
             work_dir,
             config,
             seed,
             mdice,
             protocol=PROTOCOL,
             test_dir='test_20250101_000000',
             dump=True,
             mtime=None):
    """A work dir as tools/train.py + tools/test.py --out leave it."""
    run = osp.join(str(root), work_dir)
    os.makedirs(osp.join(run, test_dir), exist_ok=True)
    if dump:
        with open(osp.join(run, f'{config}.py'), 'w') as f:
            f.write(f"randomness = dict(seed={seed}, deterministic=False)\n"
                    "train_dataloader = dict(dataset=dict(split='x'))\n")
    path = osp.join(run, test_dir, 'metrics_summary.json')
    with open(path, 'w') as f:
        json.dump(
            dict(
                protocol=protocol,
                metrics=dict(mDice=mdice, Dice_LV=mdice + 1.0, mHD95=None)), f)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return run


def test_two_seeds_give_mean_and_sample_std(tmp_path):
    a = fake_run(tmp_path, 'aigcmatch_acdc_7case', 'aigcmatch_acdc_7case', 0,
                 89.0)
    b = fake_run(tmp_path, 'aigcmatch_acdc_7case_s1', 'aigcmatch_acdc_7case',
                 1, 90.5)
    out = tmp_path / 'table'
    table.main([a, b, '--out', str(out)])
    mean = (89.0 + 90.5) / 2
    std = statistics.stdev([89.0, 90.5])  # 1.0607
    with open(out / 'results_table.csv') as f:
        (row, ) = list(csv.DictReader(f))
    assert (row['method'], row['labeled_cases'], row['n']) == ('aigcmatch',
                                                               '7', '2')
    assert float(row['mean']) == pytest.approx(mean)
    assert float(row['std']) == pytest.approx(std)
    assert row['seeds'] == '0 1'
    markdown = (out / 'results_table.md').read_text()
    assert f'| aigcmatch | {mean:.2f} ± {std:.2f} (n=2) |' in markdown
    assert '| method | 7 cases |' in markdown
    assert 'Protocol: split: test; volumes: 40; classes: RV, Myo, LV' in \
        markdown


def test_methods_cases_and_seeds_from_names(tmp_path):
    # no config dump: method, cases and seed from the work dir's name
    for seed, value in ((1, 85.0), (2, 86.0), (3, 84.0)):
        fake_run(
            tmp_path,
            f'unimatch_acdc_1case_seed{seed}',
            '',
            seed,
            value,
            dump=False)
    fake_run(tmp_path, 'supbaseline_acdc_1case', 'supbaseline_acdc_1case', 0,
             30.0)
    fake_run(tmp_path, 'unimatch_acdc_3case', 'unimatch_acdc_3case', 0, 88.0)
    results, _ = table.load_results([str(tmp_path)], 'mDice')
    cells, methods, cases, protocols = table.build_table(results)
    assert methods == ['supbaseline', 'unimatch']  # the paper's order
    assert cases == [1, 3]
    cell = cells[('unimatch', 1)]
    assert cell['mean'] == pytest.approx(85.0)
    assert cell['std'] == pytest.approx(1.0)
    assert sorted(cell['seeds']) == [1, 2, 3]
    assert cells[('unimatch', 3)]['std'] is None  # one run: no std
    markdown = table.to_markdown(cells, methods, cases, protocols, 'mDice',
                                 len(results))
    assert '| supbaseline | 30.00 (n=1) | – |' in markdown
    assert '| unimatch | 85.00 ± 1.00 (n=3) | 88.00 (n=1) |' in markdown


def test_other_metric_and_newest_json_of_a_run(tmp_path):
    run = fake_run(
        tmp_path,
        'fixmatch_acdc_3case',
        'fixmatch_acdc_3case',
        0,
        80.0,
        mtime=1_000_000)
    fake_run(
        tmp_path,
        'fixmatch_acdc_3case',
        'fixmatch_acdc_3case',
        0,
        82.0,
        test_dir='test_20250202_000000',
        mtime=2_000_000)
    results, notes = table.load_results([run], 'Dice_LV')
    (result, ) = results
    assert result.value == pytest.approx(83.0)  # the newer JSON, Dice_LV
    assert any('using the newer one' in n for n in notes)


def test_different_protocols_in_one_cell(tmp_path):
    valtest = dict(PROTOCOL, split='valtest', num_cases=60)
    fake_run(tmp_path, 'aigcmatch_acdc_3case_seed0', 'aigcmatch_acdc_3case', 0,
             89.0)
    fake_run(
        tmp_path,
        'aigcmatch_acdc_3case_seed1',
        'aigcmatch_acdc_3case',
        1,
        90.0,
        protocol=valtest)
    with pytest.raises(
            ValueError,
            match=r'aigcmatch, 3 case\(s\): runs of '
            r'different evaluation protocols \(num_cases, split '
            r'differ\)'):
        table.main([str(tmp_path), '--out', str(tmp_path / 'o')])
    assert not (tmp_path / 'o').exists()
    table.main([str(tmp_path), '--out', str(tmp_path / 'o'), '--flag-mixed'])
    markdown = (tmp_path / 'o' / 'results_table.md').read_text()
    assert '89.50 ± 0.71 (n=2) [P1,P2] †' in markdown
    assert '- P1: split: test' in markdown and '- P2: split: valtest' in \
        markdown
    table.main([
        str(tmp_path), '--out',
        str(tmp_path / 'only_test'), '--split', 'test'
    ])
    with open(tmp_path / 'only_test' / 'results_table.csv') as f:
        (row, ) = list(csv.DictReader(f))
    assert (row['mean'], row['n']) == ('89.0', '1')


def test_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match='nowhere: no such work dir'):
        table.main([str(tmp_path / 'nowhere')])
    with pytest.raises(ValueError, match='no metrics_summary.json under'):
        table.main([str(tmp_path)])
    run = fake_run(tmp_path, 'mystery', 'mystery', 0, 50.0)
    with pytest.raises(
            ValueError, match=r'metrics_summary\.json: cannot '
            'tell the method'):
        table.main([run])
    with pytest.raises(
            ValueError,
            match=r"no metric 'Dice_XX'; it has "
            'Dice_LV, mDice, mHD95'):
        table.load_results([run], 'Dice_XX')
    ok = fake_run(tmp_path / 'b', 'aigcmatch_acdc_1case',
                  'aigcmatch_acdc_1case', 0, 80.0)
    table.main([ok])
    with pytest.raises(
            FileExistsError,
            match=r'results_table\.md already '
            'exists; pass --overwrite'):
        table.main([ok])


def test_datasets_never_share_a_cell(tmp_path):
    fake_run(tmp_path, 'aigcmatch_acdc_3case', 'aigcmatch_acdc_3case', 0, 89.0)
    # tools/demo.sh names work dirs <time>_<config>; no dump here
    fake_run(
        tmp_path,
        '20250101_120000_aigcmatch_demo_3case',
        '',
        0,
        85.0,
        dump=False)
    results, _ = table.load_results([str(tmp_path)], 'mDice')
    cells, methods, _, _ = table.build_table(results)
    assert methods == ['aigcmatch (acdc)', 'aigcmatch (demo)']
    assert cells[('aigcmatch (demo)', 3)]['mean'] == pytest.approx(85.0)
    assert cells[('aigcmatch (acdc)', 3)]['n'] == 1
