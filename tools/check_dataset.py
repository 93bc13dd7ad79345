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
    from projects.aigcmatch.utils.data_checks import check_config_data

    return check_config_data(
        cfg, level='full' if full_check else 'headers', progress=progress)


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
