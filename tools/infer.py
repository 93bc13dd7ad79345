# Copyright (c) aigcmatch contributors. All rights reserved.
"""Segment new scans with a trained model; write labels, volumes and the LV EF.

INPUT is a NIfTI volume (.nii/.nii.gz), an h5 volume of the layout, a PNG or
NPY slice (NPY may be a volume), or a folder of them (not recursive; files
ending in _gt, _4d, _seg or _probs are skipped there). Each scan is
normalised per volume as the config's ``intensity_norm`` says (default
``robust_minmax``: min-max, with extreme voxels replaced first and a warning
naming the file), every slice is resized to the model input (256x256
bilinear, as in validation) and the logits are resized back; the label map
is written in the input's format, shape, orientation, affine and spacing
(``<case>_seg.*``). ``volumes.csv`` lists the volume of each class in ml
(voxels x voxel volume) and, for patients with two or more frames, the LV
ejection fraction.

Examples:
    python tools/infer.py configs/aigcmatch_acdc_7case.py best.pth \\
        patient101_frame01.nii.gz patient101_frame14.nii.gz \\
        --out out/ --overlay
    python tools/infer.py CONFIG CKPT data/ACDC/data --out out/ --save-probs
    python tools/infer.py CONFIG CKPT scans/ --out out/ \
        --cfg-options "test_dataloader.dataset.pipeline.1.scale=(128,128)"

The slices go through the test loader's pipeline, the one tools/test.py
evaluates with (``test_dataloader.dataset.pipeline``), after the same
``--cfg-options``.
"""
import argparse
import csv
import os
import os.path as osp
import sys
import time
from typing import Dict, List, Optional

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from projects.aigcmatch.utils import run_tool  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    from mmengine.config import DictAction
    parser = argparse.ArgumentParser(
        description='Segment new scans with a trained model')
    parser.add_argument(
        'config', help='config the checkpoint was trained with')
    parser.add_argument('checkpoint', help='checkpoint (.pth)')
    parser.add_argument(
        'inputs',
        nargs='+',
        metavar='INPUT',
        help='.nii/.nii.gz/.h5/.png/.npy files or folders of them')
    parser.add_argument('--out', required=True, help='output folder')
    parser.add_argument(
        '--overwrite',
        action='store_true',
        help='write into a non-empty --out (files of the same name are '
        'replaced)')
    parser.add_argument(
        '--overlay',
        action='store_true',
        help='also write [image | overlay] PNGs per slice to OUT/overlays/')
    parser.add_argument(
        '--save-probs',
        action='store_true',
        help='also write per-class softmax probabilities')
    parser.add_argument(
        '--spacing',
        type=float,
        nargs=3,
        metavar=('SZ', 'SY', 'SX'),
        help='voxel size in mm for inputs without one (PNG/NPY/arrays); '
        'files that carry a spacing keep theirs')
    parser.add_argument(
        '--device', help='torch device (default: cuda when usable, else cpu)')
    parser.add_argument(
        '--batch-size', type=int, default=16, help='slices per forward pass')
    parser.add_argument(
        '--no-progress', action='store_true', help='no progress bar')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value, as for '
        'tools/test.py (e.g. the test pipeline: '
        'test_dataloader.dataset.pipeline.1.scale="(64,64)")')
    parser.add_argument(
        '--allow-new-keys',
        action='store_true',
        help='let --cfg-options add keys the config does not have')
    return parser.parse_args(argv)


def check_out_dir(out_dir: str, overwrite: bool) -> None:
    """Refuse a non-empty output folder unless ``overwrite``.

    Raises:
        FileExistsError: ``out_dir`` holds files, or is a file.
    """
    if osp.isfile(out_dir):
        raise FileExistsError(f'--out {out_dir} is a file; expected a folder')
    if osp.isdir(out_dir) and os.listdir(out_dir) and not overwrite:
        shown = ', '.join(sorted(os.listdir(out_dir))[:3])
        raise FileExistsError(
            f'--out {out_dir} already holds results ({shown}, ...); choose '
            'another folder or pass --overwrite (nothing was written)')


class _Progress:
    """tqdm when installed, else mmengine's ProgressBar; counts slices."""

    def __init__(self, total: int, enabled: bool) -> None:
        self._bar = None
        self._tqdm = False
        if not enabled or total <= 0:
            return
        try:
            from tqdm import tqdm
            self._bar = tqdm(total=total, unit='slice')
            self._tqdm = True
        except ImportError:
            from mmengine.utils import ProgressBar
            self._bar = ProgressBar(total)

    def __call__(self, n: int) -> None:
        if self._bar is None:
            return
        if self._tqdm:
            self._bar.update(n)
        else:
            for _ in range(n):
                self._bar.update()

    def close(self) -> None:
        if self._tqdm:
            self._bar.close()
        elif self._bar is not None:
            sys.stdout.write('\n')


def _fmt(value: Optional[float], digits: int = 2) -> str:
    return '' if value is None else f'{value:.{digits}f}'


def write_volumes_csv(path: str, rows: List[Dict[str, object]],
                      class_names) -> None:
    """One row per case: files, spacing, per-class voxels and ml, EF.

    ``shape`` and ``spacing_mm`` are in the file's axis order (NIfTI: x y z).
    """
    fields = ['case_id', 'input', 'output', 'shape', 'spacing_mm', 'voxel_ml']
    for name in class_names:
        fields += [f'{name}_voxels', f'{name}_ml']
    fields += ['patient', 'phase', 'lv_ef_percent', 'phase_rule']
    with open(path, 'w', newline='') as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row.get(k, '') for k in fields})


def main(argv=None) -> None:
    args = parse_args(argv)
    from projects.aigcmatch.apis import (CaseLV, Segmenter, ejection_fractions,
                                         find_inputs, read_scan,
                                         voxel_volume_ml)
    from projects.aigcmatch.utils import apply_cfg_options, load_config

    if args.batch_size < 1:
        raise ValueError(f'--batch-size must be >= 1, got {args.batch_size}')
    check_out_dir(args.out, args.overwrite)
    if not osp.isfile(args.checkpoint):
        raise FileNotFoundError(f'checkpoint {args.checkpoint}: no such file')
    files, skipped = find_inputs(args.inputs)
    for path in skipped:
        print(f'skipped {path} (a label, cine or output file by its name)')
    # Read every input once before predicting: a bad file fails the run
    # before anything is written.
    total_slices = sum(read_scan(p).num_slices for p in files)

    # the same config as tools/test.py would evaluate: checked overrides
    cfg = load_config(args.config)
    apply_cfg_options(cfg, args.cfg_options, args.allow_new_keys)
    segmenter = Segmenter(
        cfg,
        args.checkpoint,
        device=args.device,
        batch_size=args.batch_size)
    print(f'{len(files)} scan(s), {total_slices} slices; model input '
          f'{segmenter.input_size[0]}x{segmenter.input_size[1]}, classes '
          f'{", ".join(segmenter.class_names)}, device {segmenter.device}, '
          f'intensities {segmenter.intensity_norm.method}')
    os.makedirs(args.out, exist_ok=True)
    fg_names = list(segmenter.class_names[1:])
    rows, lv_cases = [], []
    progress = _Progress(total_slices, not args.no_progress)
    start = time.time()
    for path in files:
        scan = read_scan(path)
        spacing = args.spacing if scan.spacing is None else None
        result = segmenter.segment(
            scan,
            spacing=spacing,
            return_probs=args.save_probs,
            progress=progress)
        written = result.save(
            args.out, overlay=args.overlay, save_probs=args.save_probs)
        row = dict(
            case_id=result.case_id,
            input=path,
            output=written['labels'],
            shape='x'.join(str(s) for s in result.scan.file_shape),
            spacing_mm=('' if result.scan.file_spacing is None else ' '.join(
                f'{s:g}' for s in result.scan.file_spacing)),
            voxel_ml=_fmt(
                voxel_volume_ml(result.labels.shape, result.spacing), 6))
        for name in fg_names:
            row[f'{name}_voxels'] = result.voxel_counts[name]
            row[f'{name}_ml'] = _fmt(result.volumes_ml[name], 3)
        rows.append(row)
        if 'LV' in fg_names:
            lv_cases.append(
                CaseLV(
                    case_id=result.case_id,
                    lv_ml=result.volumes_ml['LV'],
                    path=path,
                    phase=scan.phase))
    progress.close()
    elapsed = time.time() - start

    efs, notes = ejection_fractions(lv_cases)
    by_case = {r['case_id']: r for r in rows}
    for ef in efs:
        for case, phase in ((ef.ed_case, 'ED'), (ef.es_case, 'ES')):
            by_case[case].update(
                patient=ef.patient,
                phase=phase,
                lv_ef_percent=_fmt(ef.ef_percent),
                phase_rule=ef.rule)
    csv_path = osp.join(args.out, 'volumes.csv')
    write_volumes_csv(csv_path, rows, fg_names)

    print(f'segmented {len(rows)} scan(s) in {elapsed:.1f} s -> {args.out}')
    for row in rows:
        vols = ', '.join(f'{n} {row[f"{n}_ml"]} ml' if row[f'{n}_ml'] !=
                         '' else f'{n} {row[f"{n}_voxels"]} voxels'
                         for n in fg_names)
        print(f'  {row["case_id"]}: {vols}')
    for ef in efs:
        print(f'  {ef.patient}: LV EDV {ef.edv_ml:.1f} ml ({ef.ed_case}), '
              f'ESV {ef.esv_ml:.1f} ml ({ef.es_case}), EF '
              f'{_fmt(ef.ef_percent, 1) or "n/a"} %  [ED/ES by {ef.rule}]')
    for note in notes:
        print(f'  {note}')
    print(f'wrote {csv_path}')


if __name__ == '__main__':
    run_tool(main)
