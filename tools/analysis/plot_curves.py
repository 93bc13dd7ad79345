# Copyright (c) aigcmatch contributors. All rights reserved.
"""Plot a run's training curves: loss terms, conf_ratio and val mDice.

Reads mmengine's ``vis_data/scalars.json`` (one JSON object per line, written
by ``LoggerHook`` through ``LocalVisBackend``) of the newest run under
WORK_DIR (``WORK_DIR/<timestamp>/vis_data/scalars.json``), or of ``--run
TIMESTAMP``, or a scalars.json given directly, and writes one PNG with three
panels: every ``loss*`` term against the iteration, the fraction of
confident unlabeled pixels ``conf_ratio`` (and ``att_entropy`` when logged),
and the validation ``mDice`` (with per-class ``Dice_*``).

Example:
    python tools/analysis/plot_curves.py work_dirs/aigcmatch_acdc_7case
    python tools/analysis/plot_curves.py WORK_DIR --run 20250101_120000 \\
        --out curves.png
"""
import argparse
import json
import math
import os.path as osp
import sys
from typing import Dict, List, Optional, Tuple

sys.path.insert(0,
                osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from projects.aigcmatch.utils import run_tool  # noqa: E402

Series = Dict[str, Tuple[List[int], List[float]]]

SCALARS = osp.join('vis_data', 'scalars.json')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Plot loss terms, conf_ratio and val mDice of a run')
    parser.add_argument(
        'work_dir',
        metavar='WORK_DIR',
        help='work dir (newest run inside), a run folder, or a scalars.json')
    parser.add_argument('--run', help='timestamp folder of the run to plot')
    parser.add_argument(
        '--out', help='PNG to write (default: RUN_DIR/curves.png)')
    parser.add_argument(
        '--overwrite', action='store_true', help='replace an existing PNG')
    parser.add_argument(
        '--smooth',
        type=int,
        default=1,
        help='moving-average window over logged train '
        'points (default 1: raw)')
    return parser.parse_args(argv)


def find_scalars(work_dir: str, run: Optional[str] = None) -> str:
    """The scalars.json to plot.

    Raises:
        FileNotFoundError: Nothing to plot, naming where it looked.
    """
    if osp.isfile(work_dir):
        return work_dir
    if not osp.isdir(work_dir):
        raise FileNotFoundError(f'{work_dir}: no such work dir')
    if run is not None:
        path = osp.join(work_dir, run, SCALARS)
        if not osp.isfile(path):
            raise FileNotFoundError(f'{path}: no such file (--run {run})')
        return path
    if osp.isfile(osp.join(work_dir, SCALARS)):
        return osp.join(work_dir, SCALARS)
    import glob
    runs = glob.glob(osp.join(work_dir, '*', SCALARS))
    if not runs:
        raise FileNotFoundError(
            f'{work_dir}: no run with {SCALARS} (expected '
            f'{work_dir}/<timestamp>/{SCALARS}, written by LoggerHook)')
    # newest by modification time; timestamp names break ties
    return max(runs, key=lambda p: (osp.getmtime(p), p))


def read_scalars(path: str) -> Tuple[Series, Series]:
    """Split the log into training and validation series.

    A line with a ``loss`` key (or ``lr``) is a training record, any other
    line with a ``step`` is a validation record. The x value is ``step`` (the
    iteration). Non-numeric values are ignored.

    Returns:
        tuple[dict, dict]: ``train`` and ``val``: key -> (steps, values).

    Raises:
        ValueError: A line is not JSON, or the file holds no record.
    """
    train: Series = {}
    val: Series = {}
    with open(path) as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f'{path}, line {number}: not JSON ({e})') \
                    from e
            if not isinstance(record, dict):
                raise ValueError(f'{path}, line {number}: expected a JSON '
                                 'object')
            step = record.get('step', record.get('iter'))
            if step is None:
                continue
            is_train = any(k.startswith('loss') for k in record) or \
                'lr' in record
            target = train if is_train else val
            for key, value in record.items():
                if key in ('step', 'iter', 'epoch') or isinstance(
                        value, bool) or not isinstance(value, (int, float)):
                    continue
                steps, values = target.setdefault(key, ([], []))
                steps.append(int(step))
                values.append(float(value))
    if not train and not val:
        raise ValueError(f'{path}: no scalar record (is it a scalars.json of '
                         'mmengine?)')
    return train, val


def _smooth(values: List[float], window: int) -> List[float]:
    if window <= 1:
        return values
    out = []
    for i in range(len(values)):
        chunk = [
            v for v in values[max(0, i - window + 1):i + 1]
            if not math.isnan(v)
        ]
        out.append(sum(chunk) / len(chunk) if chunk else float('nan'))
    return out


def plot(train: Series,
         val: Series,
         out_path: str,
         title: str,
         smooth: int = 1) -> List[str]:
    """Draw the three panels; returns the keys that were plotted."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    plotted = []

    def draw(ax, series, keys, ylabel, empty, **style):
        shown = False
        for key in keys:
            if key in series:
                steps, values = series[key]
                ax.plot(
                    steps,
                    _smooth(values, smooth)
                    if style.get('smoothed', True) else values,
                    label=key,
                    lw=style.get('lw', {}).get(key, 1.2),
                    marker=style.get('marker'))
                plotted.append(key)
                shown = True
        ax.set_xlabel('iteration')
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        if shown:
            ax.legend(fontsize=7)
        else:
            ax.text(
                0.5,
                0.5,
                empty,
                ha='center',
                va='center',
                transform=ax.transAxes,
                color='gray')

    loss_keys = sorted(k for k in train if k.startswith('loss'))
    draw(axes[0], train, loss_keys, 'loss', 'no loss logged', lw={'loss': 2.0})
    axes[0].set_title('loss terms')
    draw(axes[1], train, ['conf_ratio', 'att_entropy'], 'fraction',
         'conf_ratio not logged\n(supervised run?)')
    axes[1].set_title('confident unlabeled pixels')
    dice_keys = ['mDice'] + sorted(k for k in val if k.startswith('Dice_'))
    draw(
        axes[2],
        val,
        dice_keys,
        'Dice (%)',
        'no validation logged',
        smoothed=False,
        marker='o',
        lw={'mDice': 2.0})
    axes[2].set_title('validation Dice')
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(out_path, dpi=100)
    plt.close(fig)
    return plotted


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.smooth < 1:
        raise ValueError(f'--smooth must be >= 1, got {args.smooth}')
    path = find_scalars(args.work_dir, args.run)
    run_dir = osp.dirname(
        osp.dirname(path)) if path.endswith(SCALARS) else osp.dirname(path)
    out_path = args.out or osp.join(run_dir, 'curves.png')
    if osp.exists(out_path) and not args.overwrite:
        raise FileExistsError(f'{out_path} already exists; pass --overwrite '
                              'to replace it or choose another --out')
    train, val = read_scalars(path)
    plotted = plot(train, val, out_path, path, args.smooth)
    print(f'{path}: plotted {", ".join(plotted) or "nothing"} -> {out_path}')


if __name__ == '__main__':
    run_tool(main)
