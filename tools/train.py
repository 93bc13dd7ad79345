# Copyright (c) aigcmatch contributors. All rights reserved.
"""Train a segmentor from a config (mmseg 1.x conventions).

Examples:
    python tools/train.py configs/aigcmatch_acdc_7case.py
    python tools/train.py configs/aigcmatch_acdc_7case.py --cfg-options data_root=/data/ACDC
    python tools/train.py configs/aigcmatch_acdc_7case.py --resume
    bash tools/dist_train.sh configs/aigcmatch_acdc_7case.py 4
"""
import argparse
import logging
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from projects.aigcmatch.utils import (add_config_args,  # noqa: E402
                                      parse_tool_args, run_tool)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a segmentor')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        action='store_true',
        default=False,
        help='resume from the latest checkpoint in the work_dir')
    parser.add_argument(
        '--amp',
        action='store_true',
        default=False,
        help='mixed precision (mmengine AmpOptimWrapper): bfloat16 on GPUs '
        'that support it, else float16; without CUDA bfloat16 autocast on '
        'CPUs with bfloat16 kernels (CPUAutocastOptimWrapper), else float32')
    parser.add_argument(
        '--partial-load',
        action='store_true',
        default=False,
        help='let load_from be a checkpoint that fits the model in part '
        '(e.g. a backbone-only pretraining): load what fits and log what was '
        'and was not loaded. Without it a checkpoint must fit exactly')
    add_config_args(parser)
    return parse_tool_args(parser, argv)


def main(argv=None):
    args = parse_args(argv)

    from mmengine.logging import print_log
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner

    from projects.aigcmatch.compat import (amp_dtype, cleanup_distributed,
                                           init_distributed)
    from projects.aigcmatch.utils import (UserError, check_training_config,
                                          ensure_atomic_checkpoints,
                                          ensure_checkpoint_check,
                                          prepare_config,
                                          refuse_to_clobber_work_dir,
                                          sanitize_cfg_for_device)
    from projects.aigcmatch.utils.data_checks import check_data_at_startup

    cfg = prepare_config(args)
    check_training_config(cfg)
    if args.launcher == 'pytorch':
        # N processes must be able to share the configured total batch:
        # refuse before anything is built (the runner would, later)
        from projects.aigcmatch.engine.runner import check_total_batch
        check_total_batch(cfg, int(os.environ.get('WORLD_SIZE', '1')))
    if args.partial_load and (args.resume or not cfg.get('load_from')):
        raise UserError(
            '--partial-load applies to the initial weights of a fresh run '
            '(--cfg-options load_from=CHECKPOINT), not to --resume, which '
            'continues a run with exactly its own model'
            if args.resume else '--partial-load needs a checkpoint to load: '
            'set load_from (--cfg-options load_from=CHECKPOINT)')
    # load_from and --resume: refuse a checkpoint that does not fit the model
    ensure_checkpoint_check(cfg, partial_load=args.partial_load)
    atomic = ensure_atomic_checkpoints(cfg)

    if args.amp:
        optim_type = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if optim_type not in ('OptimWrapper', 'AmpOptimWrapper'):
            raise ValueError('--amp needs optim_wrapper.type OptimWrapper or '
                             f'AmpOptimWrapper, but the config has '
                             f'{optim_type}')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
        if cfg.optim_wrapper.get('dtype') is None:
            # bfloat16 where the GPU has it (no overflow, same range as
            # float32), else float16 with the dynamic loss scale
            cfg.optim_wrapper.dtype = amp_dtype()

    cfg.resume = args.resume
    changes = sanitize_cfg_for_device(cfg)
    refuse_to_clobber_work_dir(cfg.work_dir, args.resume)
    # seconds, not hours in: leaked splits, bad headers and label values of
    # every dataset (val and test too) stop the run before it starts
    check_data_at_startup(cfg, keys=None, config_name=args.config)
    init_distributed(args.launcher)
    ok = False
    try:
        # the config's runner_type (AIGCMatchRunner for the shipped configs),
        # as mmseg's own tools build it
        runner = (RUNNERS.build(cfg)
                  if 'runner_type' in cfg else Runner.from_cfg(cfg))
        for change in changes:
            print_log(f'config adapted to this machine: {change}',
                      logger='current', level=logging.WARNING)
        if atomic:
            print_log(atomic, logger='current')
        runner.train()
        ok = True
    finally:
        # after a failure other ranks may never reach a barrier: skip it
        cleanup_distributed(barrier=ok)


if __name__ == '__main__':
    run_tool(main)
