# Copyright (c) aigcmatch contributors. All rights reserved.
"""Print whether a checkpoint's attention points at the anatomy.

On labelled slices of a split of the config (val by default), with the
model's own attention source and perturbations (the same quantities the
training log shows, measured against the ground truth here):

* ``att_auc``: the spatial attention as a detector of the foreground
  (0.5 = chance, 1 = every foreground pixel above every background pixel);
* ``box_fg`` vs ``box_fg_random``: share of the partner's foreground in the
  CutMix boxes, and in boxes of the same sizes at random positions;
  ``box_iou``: overlap of two draws' boxes (1 = every view gets one box);
* per class: how many pseudo-labelled pixels pass the confidence threshold
  and how many of those are right;
* per level: how many of the channels the attention ranks strong are among
  the channels most selective for the true foreground (against chance);
* ``fp_flip``: share of pixels whose class the feature perturbation changes.

Example:
    python tools/analysis/attention_diagnostics.py \\
        configs/aigcmatch_acdc_7case.py work_dirs/x/best_mDice_iter_30000.pth
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0,
                osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from projects.aigcmatch.utils import (add_config_args,  # noqa: E402
                                      parse_tool_args, run_tool)

SPLITS = dict(val='val_dataloader', test='test_dataloader',
              train='train_dataloader')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog='\n'.join(__doc__.splitlines()[1:]))
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--split', choices=sorted(SPLITS), default='val',
                        help="the config's dataset to measure on")
    parser.add_argument('--max-slices', type=int, default=64,
                        help='slices used, evenly spread over the split')
    parser.add_argument('--draws', type=int, default=8,
                        help='CutMix boxes drawn per slice')
    parser.add_argument('--device', help='default: CUDA if usable, else CPU')
    add_config_args(parser)
    return parse_tool_args(parser, argv)


def load_slices(cfg, key: str, max_slices: int):
    """Images at the model's input size and their labels, same size."""
    import numpy as np
    import torch
    from mmseg.registry import DATASETS

    from projects.aigcmatch.evaluation.attention_diagnostics import \
        resized_labels

    dataset = DATASETS.build(cfg[key].dataset)
    pick = np.unique(
        np.linspace(0, len(dataset) - 1, min(max_slices, len(dataset))).round(
        ).astype(int))
    images, labels = [], []
    for i in pick:
        sample = dataset[int(i)]
        images.append(sample['inputs'].float())
        labels.append(sample['data_samples'].gt_sem_seg.data[0])
    images = torch.stack(images)
    return images, resized_labels(labels, images.shape[-2:])


def main(argv=None):
    args = parse_args(argv)
    from projects.aigcmatch.apis import load_segmentor
    from projects.aigcmatch.evaluation.attention_diagnostics import \
        attention_report
    from projects.aigcmatch.utils import (UserError, apply_cfg_options,
                                          check_num_classes, load_config)

    if args.max_slices < 2 or args.draws < 1:
        raise UserError('--max-slices must be >= 2 and --draws >= 1, got '
                        f'{args.max_slices} and {args.draws}')
    cfg = load_config(args.config)
    apply_cfg_options(cfg, args.cfg_options, args.allow_new_keys)
    check_num_classes(cfg)
    model = load_segmentor(cfg, args.checkpoint, args.device)
    if model.attention_source is None and model.image_perturbation is None \
            and model.feature_perturbation is None:
        raise UserError(f'{args.config}: the model has no attention source '
                        'and no perturbation; nothing to diagnose')
    key = SPLITS[args.split]
    if key not in cfg:
        raise UserError(f'{args.config} has no {key} for --split '
                        f'{args.split}')
    images, labels = load_slices(cfg, key, args.max_slices)
    images = model.data_preprocessor(
        dict(inputs=list(images), data_samples=None), False)['inputs']
    report = attention_report(model, images, labels, draws=args.draws)
    source = type(model.attention_source).__name__ \
        if model.attention_source is not None else 'none'
    print(f'{args.checkpoint} on {len(images)} slices of split '
          f"'{args.split}'; attention source {source}")
    width = max(len(k) for k in report)
    for name, value in report.items():
        print(f'{name:<{width}}  {value:.4f}')


if __name__ == '__main__':
    run_tool(main)
