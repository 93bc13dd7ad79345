"""Per-volume 3D Dice, Jaccard, HD95 and ASD per class (medpy definitions)."""
import csv
import json
import math
import os
import os.path as osp
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from mmseg.registry import METRICS
from prettytable import PrettyTable

from .surface_distance import hd95_asd
from .volume_assembly import CaseVolume, assemble_volumes

SCORES = ('Dice', 'Jaccard', 'HD95', 'ASD')


@METRICS.register_module()
class MedicalMetric(BaseMetric):
    """Per-case 3D segmentation metrics, the protocol of the ACDC literature.

    ``process`` keeps one compact record per slice (prediction and label at
    the slice's original size as uint8, ``case_id``, ``slice_idx``,
    ``num_slices``, ``spacing``). ``compute_metrics`` (on rank 0, after
    mmengine gathered every rank's records) rebuilds each volume, keeping a
    slice repeated by the sampler's padding once, and computes per case and
    class Dice and Jaccard (percent) and HD95 and ASD (medpy's definitions,
    ``medpy.metric.binary.hd95(pred, gt)`` / ``asd(pred, gt)``, computed
    by :mod:`.surface_distance`, equal to medpy and faster). Each score is
    averaged over cases per class, then over classes.

    Rules where medpy has no answer (medpy raises):

    * class in exactly one of prediction and label (e.g. missed by the
      model): Dice = Jaccard = 0; HD95/ASD are *missing* (excluded from the
      mean and counted in the table) unless ``empty_distance_penalty`` gives
      values to use instead (e.g. ``dict(hd95=50, asd=10)`` as some code
      bases do);
    * class in neither: the case is skipped for that class (all four scores
      excluded from the mean and counted as "absent") -- there is nothing to
      segment, so neither reward nor penalty.

    A class mean over no cases is NaN, and so is a mean over classes that
    includes a NaN class (the table shows why).

    Args:
        classes (Sequence[int | str], optional): Classes to report, as
            indices or names from ``dataset_meta['classes']``. Defaults to
            None: every class except index 0 (background).
        distance_unit (str): ``'voxel'`` (the literature's default: no
            spacing) or ``'mm'`` (every case's ``spacing`` metainfo, (sz, sy,
            sx), is used; a case without it is an error). Defaults to
            ``'voxel'``.
        empty_distance_penalty (dict, optional): ``dict(hd95=..., asd=...)``
            used as distances when a class is in exactly one of prediction
            and label. Defaults to None (distances missing).
        split (str, optional): Name of the evaluated split, written into the
            log and the JSON summary. Defaults to None:
            ``dataset_meta['split']`` if present, else ``'unknown'``.
        output_dir (str, optional): If given, each evaluation writes
            ``per_case_metrics.csv`` and ``metrics_summary.json`` there (the
            last evaluation overwrites earlier ones). Defaults to None.
        prediction_dir (str, optional): If given, the predicted label map of
            every volume is written there as ``<case_id>_seg.nii.gz``
            (uint8, in the source NIfTI's orientation and affine when the h5
            volume records them, else a diagonal affine from its spacing),
            as mmseg's ``--out`` keeps prediction maps. Defaults to None.
        num_workers (int, optional): Threads for the per case and class
            work (scipy's erosion and distance transform release the GIL);
            0 or 1 runs serially. Defaults to None: ``min(4, cpu_count)``.
        collect_device (str): Where the records are gathered, ``'cpu'`` or
            ``'gpu'``. Defaults to ``'cpu'``.
        prefix (str, optional): Prefix of the metric names. Defaults to None,
            so ``save_best='mDice'`` works.
        collect_dir (str, optional): Shared folder for ``collect_device=
            'cpu'`` gathering across machines. Defaults to None.
    """

    # '' (not None) keeps the keys bare, e.g. 'mDice', without mmengine's
    # warning about a missing prefix.
    default_prefix: Optional[str] = ''

    def __init__(self,
                 classes: Optional[Sequence[Union[int, str]]] = None,
                 distance_unit: str = 'voxel',
                 empty_distance_penalty: Optional[Dict[str, float]] = None,
                 split: Optional[str] = None,
                 output_dir: Optional[str] = None,
                 prediction_dir: Optional[str] = None,
                 num_workers: Optional[int] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        super().__init__(
            collect_device=collect_device,
            prefix=prefix,
            collect_dir=collect_dir)
        if distance_unit not in ('voxel', 'mm'):
            raise ValueError(f"MedicalMetric: distance_unit must be 'voxel' "
                             f"or 'mm', got {distance_unit!r}")
        if empty_distance_penalty is not None:
            keys = set(empty_distance_penalty)
            if keys != {'hd95', 'asd'}:
                raise ValueError(
                    'MedicalMetric: empty_distance_penalty must be None or '
                    f"dict(hd95=..., asd=...), got keys {sorted(keys)}")
            empty_distance_penalty = {
                k: float(v)
                for k, v in empty_distance_penalty.items()
            }
        if num_workers is not None and num_workers < 0:
            raise ValueError('MedicalMetric: num_workers must be >= 0, got '
                             f'{num_workers}')
        self.classes = None if classes is None else list(classes)
        self.distance_unit = distance_unit
        self.empty_distance_penalty = empty_distance_penalty
        self.split = split
        self.output_dir = output_dir
        self.prediction_dir = prediction_dir
        self.num_workers = (min(4, os.cpu_count() or 1)
                            if num_workers is None else num_workers)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Keep one compact record per slice.

        Args:
            data_batch: The batch from the dataloader (unused).
            data_samples (Sequence[dict]): mmengine's dict form of the
                predicted SegDataSamples, with ``pred_sem_seg['data']`` and
                ``gt_sem_seg['data']`` (1, H, W) at the slice's original size,
                and metainfo ``case_id``, ``slice_idx``, ``num_slices`` and
                optionally ``spacing``.
        """
        for sample in data_samples:
            for key in ('case_id', 'slice_idx', 'num_slices', 'pred_sem_seg',
                        'gt_sem_seg'):
                if key not in sample:
                    raise KeyError(
                        f'MedicalMetric: a data sample has no {key!r}; it '
                        'needs pred_sem_seg, gt_sem_seg and the metainfo '
                        'case_id, slice_idx, num_slices (from a dataset in '
                        "mode='volume')")
            case_id = str(sample['case_id'])
            slice_idx = int(sample['slice_idx'])
            pred = _as_slice(sample['pred_sem_seg']['data'])
            gt = _as_slice(sample['gt_sem_seg']['data'])
            if pred.shape != gt.shape:
                raise ValueError(
                    f'MedicalMetric: case {case_id!r} slice {slice_idx}: '
                    f'prediction shape {pred.shape} differs from label shape '
                    f'{gt.shape}; predictions must be resized to the '
                    "slice's original size (ori_shape)")
            spacing = sample.get('spacing')
            if spacing is not None:
                spacing = tuple(
                    float(s) for s in np.asarray(spacing).reshape(-1))
            self.results.append(
                dict(
                    case_id=case_id,
                    img_path=sample.get('img_path'),
                    slice_idx=slice_idx,
                    num_slices=int(sample['num_slices']),
                    spacing=spacing,
                    pred=_compact(pred),
                    gt=_compact(gt)))

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """Rebuild volumes and compute the per-class and mean scores.

        Args:
            results (list): The slice records of all ranks.

        Returns:
            dict[str, float]: ``mDice``, ``mJaccard`` (percent), ``mHD95``,
            ``mASD`` (voxels or mm) and per class ``Dice_<name>``,
            ``Jaccard_<name>``, ``HD95_<name>``, ``ASD_<name>``.
        """
        volumes = assemble_volumes(results)
        classes = self._resolve_classes()
        if self.distance_unit == 'mm':
            for volume in volumes:
                _check_mm_spacing(volume)

        tasks = [(v, index) for v in volumes for index, _ in classes]
        if self.num_workers > 1 and len(tasks) > 1:
            with ThreadPoolExecutor(self.num_workers) as pool:
                scores = list(pool.map(lambda t: self._score(*t), tasks))
        else:
            scores = [self._score(*t) for t in tasks]

        names = dict(classes)
        rows = [
            dict(case_id=volume.case_id, class_name=names[index], **score)
            for (volume, index), score in zip(tasks, scores)
        ]
        summary = _summarise(rows, [name for _, name in classes])
        metrics = {f'm{s}': summary['mean'][s] for s in SCORES}
        for name in summary['per_class']:
            for s in SCORES:
                metrics[f'{s}_{name}'] = summary['per_class'][name][s]

        protocol = self._protocol(len(volumes), classes)
        self._log_table(summary, protocol)
        if self.output_dir is not None:
            self._write_outputs(rows, summary, metrics, protocol)
        if self.prediction_dir is not None:
            paths = {r['case_id']: r.get('img_path') for r in results}
            self._write_predictions(volumes, paths)
        return metrics

    def _write_predictions(self, volumes: List[CaseVolume],
                           paths: Dict[str, Optional[str]]) -> None:
        """One ``<case_id>_seg.nii.gz`` per volume (see ``prediction_dir``).
        """
        import h5py
        import nibabel as nib

        from ..datasets.io.nifti import dhw_to_nifti
        os.makedirs(self.prediction_dir, exist_ok=True)
        for volume in volumes:
            affine, codes = None, {}
            path = paths.get(volume.case_id)
            if isinstance(path, str) and path.endswith('.h5') and \
                    osp.isfile(path):
                with h5py.File(path, 'r') as f:
                    if 'affine' in f.attrs and f.attrs.get(
                            'nifti_axes', 'zyx') in ('zyx', b'zyx'):
                        affine = np.asarray(f.attrs['affine'], np.float64)
                        for key in ('qform_code', 'sform_code'):
                            if key in f.attrs:
                                codes[key] = int(f.attrs[key])
            img = dhw_to_nifti(
                volume.pred.astype(np.uint8), affine, volume.spacing,
                **codes)
            nib.save(
                img,
                osp.join(self.prediction_dir, f'{volume.case_id}_seg.nii.gz'))

    def _score(self, volume: CaseVolume, index: int) -> dict:
        pred, gt = volume.pred == index, volume.gt == index
        n_pred, n_gt = np.count_nonzero(pred), np.count_nonzero(gt)
        nan = float('nan')
        if n_pred == 0 and n_gt == 0:
            return dict(Dice=nan, Jaccard=nan, HD95=nan, ASD=nan,
                        status='absent')
        inter = np.count_nonzero(pred & gt)
        dice = 100.0 * 2.0 * inter / float(n_pred + n_gt)
        jaccard = 100.0 * float(inter) / float(n_pred + n_gt - inter)
        if n_pred == 0 or n_gt == 0:
            status = 'empty_prediction' if n_pred == 0 else 'empty_label'
            if self.empty_distance_penalty is None:
                hd, sd = nan, nan
            else:
                hd = self.empty_distance_penalty['hd95']
                sd = self.empty_distance_penalty['asd']
            return dict(Dice=dice, Jaccard=jaccard, HD95=hd, ASD=sd,
                        status=status)
        spacing = volume.spacing if self.distance_unit == 'mm' else None
        hd, sd = hd95_asd(pred, gt, spacing)
        return dict(Dice=dice, Jaccard=jaccard, HD95=hd, ASD=sd, status='ok')

    def _resolve_classes(self) -> List[Tuple[int, str]]:
        names = None
        if self.dataset_meta is not None:
            names = self.dataset_meta.get('classes')
        if self.classes is None:
            if names is None:
                raise ValueError(
                    "MedicalMetric: dataset_meta['classes'] is not set, so "
                    'the classes to report are unknown; pass classes=[1, 2, '
                    '...] or evaluate through a dataset with metainfo classes')
            return [(i, str(names[i])) for i in range(1, len(names))]
        resolved = []
        for c in self.classes:
            if isinstance(c, str):
                if names is None or c not in names:
                    raise ValueError(
                        f'MedicalMetric: class {c!r} in classes= is not in '
                        f"dataset_meta['classes'] ({names})")
                resolved.append((list(names).index(c), c))
            else:
                index = int(c)
                if names is not None and not 0 <= index < len(names):
                    raise ValueError(
                        f'MedicalMetric: class index {index} in classes= is '
                        f"outside dataset_meta['classes'] ({names})")
                name = str(names[index]) if names is not None \
                    else f'class{index}'
                resolved.append((index, name))
        return resolved

    def _protocol(self, num_cases: int,
                  classes: List[Tuple[int, str]]) -> dict:
        split = self.split
        if split is None and self.dataset_meta is not None:
            split = self.dataset_meta.get('split')
        if self.empty_distance_penalty is None:
            one_empty = ('class in only one of prediction/label: Dice 0, '
                         'HD95/ASD missing (excluded from means, counted)')
        else:
            one_empty = ('class in only one of prediction/label: Dice 0, '
                         f"HD95 {self.empty_distance_penalty['hd95']}, "
                         f"ASD {self.empty_distance_penalty['asd']}")
        return dict(
            split=split or 'unknown',
            num_cases=num_cases,
            classes=[name for _, name in classes],
            distance_unit=self.distance_unit,
            averaging='3D per volume, mean over volumes per class, then mean '
            'over classes',
            definitions='medpy dc, jc, hd95, asd of prediction vs label '
            '(surface connectivity 1)',
            one_side_empty=one_empty,
            both_empty='class in neither: case skipped for that class')

    def _log_table(self, summary: dict, protocol: dict) -> None:
        unit = 'vox' if self.distance_unit == 'voxel' else 'mm'
        table = PrettyTable()
        table.field_names = [
            'Class', 'Dice (%)', 'Jaccard (%)', f'HD95 ({unit})',
            f'ASD ({unit})', 'cases', 'dist. missing', 'absent'
        ]
        for name, values in summary['per_class'].items():
            table.add_row([name] + [_fmt(values[s]) for s in SCORES] + [
                values['num_cases'], values['num_missing_distance'],
                values['num_absent']
            ])
        table.add_row(['mean'] + [_fmt(summary['mean'][s])
                                  for s in SCORES] + ['', '', ''])
        print_log(
            f"MedicalMetric on split {protocol['split']!r}: "
            f"{protocol['num_cases']} volumes, distances in "
            f"{'voxels' if self.distance_unit == 'voxel' else 'mm'}\n"
            f"  {protocol['averaging']}; {protocol['definitions']}\n"
            f"  {protocol['one_side_empty']}\n"
            f"  {protocol['both_empty']}\n"
            + table.get_string(),
            logger='current')

    def _write_outputs(self, rows: List[dict], summary: dict,
                       metrics: Dict[str, float], protocol: dict) -> None:
        os.makedirs(self.output_dir, exist_ok=True)
        csv_path = osp.join(self.output_dir, 'per_case_metrics.csv')
        with open(csv_path, 'w', newline='') as f:
            writer = csv.writer(f)
            writer.writerow(['case_id', 'class', 'dice', 'jaccard', 'hd95',
                             'asd', 'status'])
            for r in rows:
                writer.writerow([r['case_id'], r['class_name']] +
                                [_csv_value(r[s]) for s in SCORES] +
                                [r['status']])
        json_path = osp.join(self.output_dir, 'metrics_summary.json')
        with open(json_path, 'w') as f:
            json.dump(
                _nan_to_none(
                    dict(protocol=protocol, metrics=metrics,
                         per_class=summary['per_class'])),
                f,
                indent=2)
        print_log(f'MedicalMetric wrote {csv_path} and {json_path}',
                  logger='current')


def _as_slice(data) -> np.ndarray:
    """A (1, H, W) or (H, W) tensor/array as a (H, W) numpy array."""
    if hasattr(data, 'detach'):
        data = data.detach().cpu().numpy()
    data = np.asarray(data)
    if data.ndim == 3 and data.shape[0] == 1:
        data = data[0]
    return data


def _compact(label: np.ndarray) -> np.ndarray:
    # uint8 keeps the gathered records small; wider labels keep their type.
    if label.size == 0 or (label.min() >= 0 and label.max() <= 255):
        return label.astype(np.uint8)
    return label


def _check_mm_spacing(volume: CaseVolume) -> None:
    if volume.spacing is None:
        raise ValueError(
            f"MedicalMetric(distance_unit='mm'): case {volume.case_id!r} has "
            "no 'spacing' metainfo; use distance_unit='voxel' or data that "
            'carries the voxel spacing')
    if len(volume.spacing) != volume.pred.ndim:
        raise ValueError(
            f'MedicalMetric: case {volume.case_id!r} has spacing '
            f'{volume.spacing}, expected {volume.pred.ndim} values (sz, sy, '
            'sx) in the volume\'s axis order')


def _summarise(rows: List[dict], class_names: List[str]) -> dict:
    per_class = {}
    for name in class_names:
        mine = [r for r in rows if r['class_name'] == name]
        values = {}
        for s in SCORES:
            finite = [r[s] for r in mine if not math.isnan(r[s])]
            values[s] = float(np.mean(finite)) if finite else float('nan')
        values['num_cases'] = sum(r['status'] != 'absent' for r in mine)
        values['num_absent'] = sum(r['status'] == 'absent' for r in mine)
        values['num_missing_distance'] = sum(
            r['status'] != 'absent' and math.isnan(r['HD95']) for r in mine)
        per_class[name] = values
    mean = {
        s: float(np.mean([v[s] for v in per_class.values()]))
        if per_class else float('nan')
        for s in SCORES
    }
    return dict(per_class=per_class, mean=mean)


def _fmt(value: float) -> str:
    return 'n/a' if math.isnan(value) else f'{value:.2f}'


def _csv_value(value: float) -> str:
    return '' if math.isnan(value) else repr(float(value))


def _nan_to_none(obj):
    # JSON has no NaN; null is what other tools read back.
    if isinstance(obj, dict):
        return {k: _nan_to_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_nan_to_none(v) for v in obj]
    if isinstance(obj, float) and math.isnan(obj):
        return None
    return obj
