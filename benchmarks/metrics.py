"""Time MedicalMetric against a plain medpy loop on ACDC-sized volumes.

Builds ``--num-volumes`` synthetic volumes of ACDC size (8-12 slices of about
256 x 216, classes RV / Myo / LV drawn as a crescent, a ring and a disc that
shrink towards the apex), predictions = labels warped by a smooth random
displacement field plus, in some volumes, a spurious blob or a class missed on
a slice. Then, in this process:

* medpy: per case and class ``dc``, ``jc``, ``hd95``, ``asd`` (what the
  SSL4MIS-style test scripts do);
* ours: ``MedicalMetric.process`` on the slices, then ``compute_metrics``.

It checks every per-case value is equal (to 1e-6) and prints both times and
the ratio. Usage::

    python benchmarks/metrics.py [--num-volumes 40] [--workers N] [--seed 0]
"""
import argparse
import csv
import os.path as osp
import sys
import tempfile
import time

import numpy as np
from scipy import ndimage

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import projects.aigcmatch  # noqa: E402,F401  (registers, patches mmcv ops)
from projects.aigcmatch.evaluation import MedicalMetric  # noqa: E402

CLASSES = ('background', 'RV', 'Myo', 'LV')


def make_label(rng: np.random.Generator) -> np.ndarray:
    """One heart-like label volume (D, H, W) with RV=1, Myo=2, LV=3."""
    depth = int(rng.integers(8, 13))
    height, width = int(rng.integers(232, 257)), int(rng.integers(200, 233))
    yy, xx = np.mgrid[:height, :width].astype(np.float64)
    cy = height / 2 + rng.uniform(-20, 20)
    cx = width / 2 + rng.uniform(-20, 20)
    r_lv, wall = rng.uniform(14, 24), rng.uniform(5, 9)
    angle = rng.uniform(0, 2 * np.pi)
    label = np.zeros((depth, height, width), np.uint8)
    for z in range(depth):
        # the heart narrows from base (z=0) to apex
        shrink = 1.0 - 0.7 * z / max(depth - 1, 1)
        r = r_lv * shrink
        d_lv = np.hypot((yy - cy) / 1.1, xx - cx)
        ry = cy + np.sin(angle) * (r + wall) * 1.3
        rx = cx + np.cos(angle) * (r + wall) * 1.3
        d_rv = np.hypot((yy - ry) / 0.8, (xx - rx) / 1.4)
        if z < depth - 1:
            label[z][d_rv < (r + wall) * 1.1] = 1
        label[z][d_lv < r + wall * (0.6 + 0.4 * shrink)] = 2
        label[z][d_lv < r] = 3
    return label


def perturb(label: np.ndarray, rng: np.random.Generator,
            far_blob_prob: float = 0.3) -> np.ndarray:
    """A plausible prediction: the label warped, sometimes with errors."""
    depth, height, width = label.shape
    strength = rng.uniform(1.0, 4.0)
    field = [
        ndimage.gaussian_filter(rng.standard_normal((depth, height, width)),
                                (0, 8, 8)) * strength * 20
        for _ in range(2)
    ]
    zz, yy, xx = np.mgrid[:depth, :height, :width].astype(np.float64)
    pred = ndimage.map_coordinates(
        label, [zz, yy + field[0], xx + field[1]], order=0, mode='nearest')
    if rng.random() < far_blob_prob:  # a false positive away from the heart
        z = int(rng.integers(depth))
        y, x = int(rng.integers(10, height - 10)), int(rng.integers(10, 40))
        pred[z, y - 4:y + 4, x - 4:x + 4] = int(rng.integers(1, 4))
    if rng.random() < 0.3:  # a class missed on one slice
        z = int(rng.integers(depth))
        pred[z][pred[z] == int(rng.integers(1, 4))] = 0
    return pred.astype(np.uint8)


def medpy_loop(volumes):
    """The reference: medpy per case and class, as test scripts do."""
    from medpy.metric import binary
    values = {}
    for case_id, pred, gt in volumes:
        for index in range(1, len(CLASSES)):
            p, g = pred == index, gt == index
            values[(case_id, CLASSES[index])] = (
                100 * binary.dc(p, g), 100 * binary.jc(p, g),
                binary.hd95(p, g), binary.asd(p, g))
    return values


def ours(volumes, workers, output_dir):
    metric = MedicalMetric(num_workers=workers, output_dir=output_dir)
    metric.dataset_meta = dict(classes=CLASSES, split='benchmark')
    for case_id, pred, gt in volumes:
        samples = [
            dict(case_id=case_id, slice_idx=z, num_slices=len(pred),
                 pred_sem_seg=dict(data=pred[z][None]),
                 gt_sem_seg=dict(data=gt[z][None])) for z in range(len(pred))
        ]
        metric.process(None, samples)
    return metric.compute_metrics(metric.results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--num-volumes', type=int, default=40)
    parser.add_argument('--workers', type=int, default=None,
                        help='MedicalMetric num_workers (default: its own)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--far-blob-prob', type=float, default=0.3,
        help='chance that a prediction has a false-positive blob far from '
        'the heart (it widens the crop; 1.0 is a harsh case)')
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    volumes = []
    for i in range(args.num_volumes):
        label = make_label(rng)
        pred = perturb(label, rng, args.far_blob_prob)
        volumes.append((f'case{i:03d}', pred, label))
    voxels = sum(v[1].size for v in volumes)
    print(f'{len(volumes)} volumes, {voxels / len(volumes):.0f} voxels each '
          'on average, classes RV/Myo/LV')

    start = time.perf_counter()
    reference = medpy_loop(volumes)
    t_medpy = time.perf_counter() - start

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        ours(volumes, args.workers, tmp)
        t_ours = time.perf_counter() - start
        with open(osp.join(tmp, 'per_case_metrics.csv')) as f:
            rows = list(csv.DictReader(f))

    worst = 0.0
    for row in rows:
        expected = reference[(row['case_id'], row['class'])]
        got = [float(row[k]) for k in ('dice', 'jaccard', 'hd95', 'asd')]
        worst = max(worst, max(abs(a - b) for a, b in zip(got, expected)))
    if len(rows) != len(reference) or worst > 1e-6:
        raise SystemExit(f'MISMATCH: {len(rows)} rows vs {len(reference)}, '
                         f'largest difference {worst}')
    print(f'values equal: {len(rows)} case x class values, largest '
          f'difference {worst:.2e}')
    print(f'medpy loop      : {t_medpy:7.2f} s')
    print(f'MedicalMetric   : {t_ours:7.2f} s (process + compute_metrics)')
    print(f'speed-up        : {t_medpy / t_ours:7.1f}x')


if __name__ == '__main__':
    main()
