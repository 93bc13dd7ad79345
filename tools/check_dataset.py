# Copyright (c) aigcmatch contributors. All rights reserved.
"""Check every dataset a config names before spending GPU hours on it.

Builds the datasets of ``train_dataloader``, ``unlabeled_dataloader``,
``mix_dataloader`` (if the model reads it: ``mix_source='loader'``),
``val_dataloader`` and ``test_dataloader`` and
checks all of their files: every id of every split names files, every file
opens and holds ``image`` (and ``label`` where the mode needs it) of matching
shapes, images are finite, labels lie within the config's classes, and no
patient is in two of labeled / unlabeled / val / test. Every problem is
reported in one run (file, what, expected); exit status 0 when none, 2
otherwise.

Examples:
    python tools/check_dataset.py configs/aigcmatch_acdc_7case.py
    python tools/check_dataset.py CONFIG --cfg-options data_root=/data/ACDC
    python tools/check_dataset.py CONFIG --headers-only   # the build's level
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmengine.config import DictAction  # noqa: E402

from projects.aigcmatch.utils import run_tool  # noqa: E402
from projects.aigcmatch.utils.config import (  # noqa: E402
    dataloader_configs, dataset_configs, model_num_classes)

#: Config keys of the loaders, in report order, and the group each belongs
#: to for the patient-overlap check (mix draws from the unlabeled pool).
#: Overlap group of each dataloader: no patient may sit in two groups.
GROUPS = dict(
    train_dataloader='labeled',
    unlabeled_dataloader='unlabeled',
    mix_dataloader='unlabeled',
    val_dataloader='val',
    test_dataloader='test')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Check the files of every dataset a config names')
    parser.add_argument('config', help='config file path')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value (e.g. '
        'data_root=/data/ACDC)')
    parser.add_argument(
        '--allow-new-keys',
        action='store_true',
        help='let --cfg-options add keys the config does not have')
    parser.add_argument(
        '--headers-only',
        action='store_true',
        help='read file headers only (keys, shapes, dtypes), not the values '
        '(NaN/inf, label range): the check run when a dataset is built')
    parser.add_argument(
        '--no-progress',
        action='store_true',
        help='no progress bars (they are only drawn on a terminal anyway)')
    return parser.parse_args(argv)


def check_config(cfg, full_check: bool = True, progress: bool = True):
    """Check every dataset of a config.

    Args:
        cfg (Config): The config (custom imports done).
        full_check (bool): Read the values too. Defaults to True.
        progress (bool): Progress bars on stderr. Defaults to True.

    Returns:
        tuple[list[str], list[str]]: One summary line per dataset, and every
        problem as ``[where] message``.
    """
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS

    from projects.aigcmatch.datasets import read_split
    from projects.aigcmatch.datasets.split_files import patients_of_split

    init_default_scope(cfg.get('default_scope', 'mmseg'))
    summary, problems = [], []
    splits = []  # (group, where, split path, patients)
    num_classes = model_num_classes(cfg)
    for key, loader in dataloader_configs(cfg):
        if key == 'mix_dataloader' and not _reads_mix_loader(cfg):
            continue  # built by the training loop only for such a model
        group = GROUPS[key]
        if 'dataset' not in loader:
            problems.append(f'[{key}] no "dataset"; expected a dataset '
                            'config in the dataloader')
            continue
        for where, ds_cfg in dataset_configs(loader['dataset'],
                                             f'{key}.dataset'):
            try:
                dataset = DATASETS.build(dict(ds_cfg, lazy_init=True))
            except Exception as err:  # any build error is a finding here
                problems.append(f'[{where}] cannot be built: {err}')
                continue
            if not hasattr(dataset, 'check_data'):
                summary.append(f'{where}: {type(dataset).__name__} has no '
                               'file checks; not checked')
                continue
            if progress:
                print(f'{where}: {dataset.split_path}', file=sys.stderr)
            found = dataset.check_data(full_check, progress)
            problems += [f'[{where}] {p.message}' for p in found]
            classes = dataset.metainfo.get('classes') or ()
            if num_classes is not None and len(classes) != num_classes:
                problems.append(
                    f'[{where}] the dataset has {len(classes)} classes '
                    f'{tuple(classes)} but model.decode_head.num_classes is '
                    f'{num_classes}; expected the same number')
            try:
                ids = read_split(dataset.split_path)
                splits.append((group, where, dataset.split_path,
                               set(patients_of_split(
                                   ids, dataset.patient_pattern))))
            except (ValueError, OSError):
                pass  # already reported by check_data
            summary.append(
                f'{where}: {type(dataset).__name__} split '
                f'{dataset.split_path} (mode {dataset.mode!r}): '
                f'{len(found)} problem(s)')
    problems += _overlap_problems(splits)
    return summary, problems


def _reads_mix_loader(cfg) -> bool:
    """Whether the model takes CutMix partners from ``mix_dataloader``
    (``WeakToStrongSegmentor.train_branches``)."""
    model = cfg.get('model') or {}
    return bool(model.get('image_perturbation')) and model.get(
        'mix_source') == 'loader'


def _overlap_problems(splits):
    problems = []
    for i, (group_a, where_a, path_a, patients_a) in enumerate(splits):
        for group_b, where_b, path_b, patients_b in splits[i + 1:]:
            if group_a == group_b:
                continue
            if {group_a, group_b} == {'val', 'test'} and osp.samefile(
                    path_a, path_b):
                continue  # one split for both on purpose (e.g. valtest)
            shared = sorted(patients_a & patients_b)
            if shared:
                more = (f' and {len(shared) - 10} more'
                        if len(shared) > 10 else '')
                problems.append(
                    f'[{where_a} / {where_b}] {group_a} split {path_a} and '
                    f'{group_b} split {path_b} share patient(s) '
                    f'{", ".join(shared[:10])}{more}; expected no patient in '
                    'two of labeled / unlabeled / val / test')
    return problems


def main(argv=None):
    args = parse_args(argv)

    from projects.aigcmatch.utils import (UserError, apply_cfg_options,
                                          load_config)

    cfg = load_config(args.config)
    apply_cfg_options(cfg, args.cfg_options, args.allow_new_keys)
    summary, problems = check_config(
        cfg,
        full_check=not args.headers_only,
        progress=not args.no_progress and sys.stderr.isatty())
    level = 'headers' if args.headers_only else 'full'
    for line in summary:
        print(line)
    if problems:
        raise UserError(f'{len(problems)} problem(s) in the datasets of '
                        f'{args.config} ({level} check):\n' +
                        '\n'.join(f'  {p}' for p in problems))
    print(f'all datasets of {args.config} passed the {level} check')


if __name__ == '__main__':
    run_tool(main)
