# Copyright (c) aigcmatch contributors. All rights reserved.
"""Evaluate a checkpoint on the test split of a config (mmseg 1.x conventions).

Prints the per-class table of the config's test metric (for ACDC: per-case 3D
Dice, Jaccard, HD95, ASD for RV, Myo, LV and their mean) and writes the
per-case results, a summary JSON and the predicted label map of every volume
(``predictions/<case>_seg.nii.gz``) to ``--out`` (default:
``WORK_DIR/test_<timestamp>``).

Examples:
    python tools/test.py configs/aigcmatch_acdc_7case.py work_dirs/x/best_mDice_iter_30000.pth
    python tools/test.py CONFIG CKPT --cfg-options test_dataloader.dataset.split=valtest
    python tools/test.py CONFIG CKPT --tta      # flips, mmseg's SegTTAModel
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
        help='directory for the per-case results (CSV), the summary (JSON) '
        'and the predicted label map of every volume '
        '(predictions/<case>_seg.nii.gz); refused if it already holds '
        'files, unless --overwrite')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='allow writing into a non-empty --out directory')
    parser.add_argument(
        '--show-dir',
        help='directory where painted predictions are saved')
    parser.add_argument(
        '--tta',
        action='store_true',
        help="test-time augmentation as mmseg's tools/test.py --tta: the "
        "config's tta_pipeline (flips) and tta_model (SegTTAModel, which "
        'averages the flipped-back softmax)')
    add_config_args(parser)
    return parse_tool_args(parser, argv)


def _tta_views(cfg) -> str:
    """The views of the TTA pipeline, e.g. 'RandomFlip(prob=0.0, ...)'."""
    views = []
    for step in cfg.test_dataloader.dataset.pipeline:
        if step.get('type') == 'TestTimeAug':
            for group in step['transforms']:
                if len(group) > 1:
                    views += [
                        'as is' if t.get('prob') == 0 else
                        f"{t.get('direction', t.get('type'))} flip"
                        if t.get('type') == 'RandomFlip' else t.get('type')
                        for t in group
                    ]
    return f'{len(views)} views ({", ".join(views)}), softmax averaged'


def _evaluators(cfg):
    evaluator = cfg.test_evaluator
    return evaluator if isinstance(evaluator, (list, tuple)) else [evaluator]


def use_tta(cfg) -> None:
    """Test with the config's ``tta_pipeline`` and ``tta_model``, as mmseg's
    ``tools/test.py --tta`` does.

    Raises:
        UserError: The config has no ``tta_pipeline`` / ``tta_model``.
    """
    from projects.aigcmatch.utils import UserError
    missing = [k for k in ('tta_pipeline', 'tta_model') if not cfg.get(k)]
    if missing:
        raise UserError(
            f'--tta needs {" and ".join(missing)} in the config (mmseg\'s '
            "convention, e.g. tta_model = dict(type='SegTTAModel') and a "
            'tta_pipeline with TestTimeAug; see '
            'configs/_base_/datasets/acdc_semi.py)')
    cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
    cfg.tta_model.module = cfg.model
    cfg.model = cfg.tta_model


def main(argv=None):
    args = parse_args(argv)

    from mmengine.logging import print_log
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner

    from projects.aigcmatch.compat import (cleanup_distributed,
                                           init_distributed,
                                           safe_load_checkpoint)
    from projects.aigcmatch.utils import (UserError, ensure_checkpoint_check,
                                          prepare_config,
                                          sanitize_cfg_for_device)
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
        # as mmseg's --out keeps prediction maps: one NIfTI per volume
        if evaluator.get('type') in ('MedicalMetric', 'mmseg.MedicalMetric'):
            evaluator['prediction_dir'] = osp.join(out_dir, 'predictions')

    if args.show_dir:
        hooks = cfg.get('default_hooks', {})
        if 'visualization' not in hooks:
            raise UserError('--show-dir needs default_hooks.visualization in '
                            'the config')
        hooks.visualization.draw = True
        cfg.visualizer.save_dir = args.show_dir

    if args.tta:
        use_tta(cfg)

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
            f'{"; test-time augmentation: " + _tta_views(cfg) if args.tta else ""}'
            f'; results in {out_dir}',
            logger='current')
        runner.test()
        ok = True
    finally:
        cleanup_distributed(barrier=ok)


if __name__ == '__main__':
    run_tool(main)
