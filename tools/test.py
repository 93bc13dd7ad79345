# Copyright (c) aigcmatch contributors. All rights reserved.
"""Evaluate a checkpoint on the test split of a config (mmseg 1.x conventions).

Prints the per-class table of the config's test metric (for ACDC: per-case 3D
Dice, Jaccard, HD95, ASD for RV, Myo, LV and their mean) and writes the
per-case results and a summary JSON to ``--out`` (default:
``WORK_DIR/test_<timestamp>``).

Examples:
    python tools/test.py configs/aigcmatch_acdc_7case.py work_dirs/x/best_mDice_iter_30000.pth
    python tools/test.py CONFIG CKPT --cfg-options test_dataloader.dataset.split=valtest
    bash tools/dist_test.sh CONFIG CKPT 2
"""
import argparse
import os
import os.path as osp
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from projects.aigcmatch.utils import (add_config_args,  # noqa: E402
                                      parse_tool_args, run_tool)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Evaluate a checkpoint with the test split of a config')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--work-dir',
        help='the directory to save the log and evaluation results')
    parser.add_argument(
        '--out',
        help='directory for the per-case results (CSV) and summary (JSON); '
        'refused if it already holds files, unless --overwrite')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='allow writing into a non-empty --out directory')
    parser.add_argument(
        '--show-dir',
        help='directory where painted predictions are saved')
    add_config_args(parser)
    return parse_tool_args(parser, argv)


def _evaluators(cfg):
    evaluator = cfg.test_evaluator
    return evaluator if isinstance(evaluator, (list, tuple)) else [evaluator]


def main(argv=None):
    args = parse_args(argv)

    from mmengine.logging import print_log
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner

    from projects.aigcmatch.compat import (cleanup_distributed,
                                           init_distributed,
                                           safe_load_checkpoint,
                                           sanitize_cfg_for_device)
    from projects.aigcmatch.utils import (UserError, ensure_checkpoint_check,
                                          prepare_config)
    from projects.aigcmatch.utils.data_checks import check_data_at_startup

    cfg = prepare_config(args)
    if not osp.isfile(args.checkpoint):
        raise UserError(f'checkpoint "{args.checkpoint}" not found')
    # Refuse an unsafe or unreadable checkpoint before any dataset is built.
    safe_load_checkpoint(args.checkpoint)

    out_dir = args.out or osp.join(
        cfg.work_dir, time.strftime('test_%Y%m%d_%H%M%S', time.localtime()))
    if osp.isdir(out_dir) and os.listdir(out_dir) and not args.overwrite:
        raise UserError(f'--out "{out_dir}" already holds files; choose '
                        'another directory or pass --overwrite')
    for evaluator in _evaluators(cfg):
        evaluator['output_dir'] = out_dir

    if args.show_dir:
        hooks = cfg.get('default_hooks', {})
        if 'visualization' not in hooks:
            raise UserError('--show-dir needs default_hooks.visualization in '
                            'the config')
        hooks.visualization.draw = True
        cfg.visualizer.save_dir = args.show_dir

    # the test split must not hold a training patient, nor a bad file
    check_data_at_startup(
        cfg, keys=['test_dataloader'], config_name=args.config)
    cfg.load_from = args.checkpoint
    # refuse a checkpoint that does not fit the model, instead of testing
    # the layers it leaves at their random initialisation
    ensure_checkpoint_check(cfg)
    changes = sanitize_cfg_for_device(cfg)
    init_distributed(args.launcher)
    ok = False
    try:
        # the config's runner_type (AIGCMatchRunner for the shipped configs),
        # as mmseg's own tools build it
        runner = (RUNNERS.build(cfg)
                  if 'runner_type' in cfg else Runner.from_cfg(cfg))
        for change in changes:
            print_log(f'config adapted to this machine: {change}',
                      logger='current')
        dataset = cfg.test_dataloader.get('dataset', {})
        print_log(
            f'protocol: checkpoint {args.checkpoint}; test split '
            f'"{dataset.get("split", "?")}" of {dataset.get("data_root", "?")}'
            f'; results in {out_dir}',
            logger='current')
        runner.test()
        ok = True
    finally:
        cleanup_distributed(barrier=ok)


if __name__ == '__main__':
    run_tool(main)
