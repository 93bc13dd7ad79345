"""MedicalMetric: hand-computed scores, medpy equality, rules, outputs."""
import csv
import json
import math

import numpy as np
import pytest
import torch
from medpy.metric import binary
from mmengine.evaluator import Evaluator
from mmengine.structures import PixelData
from mmseg.registry import METRICS
from mmseg.structures import SegDataSample

import projects.aigcmatch  # noqa: F401
from projects.aigcmatch.evaluation import MedicalMetric
from projects.aigcmatch.evaluation import medical_metric as metric_module
from .helpers import cube, volume_samples

CLASSES = ('background', 'RV', 'Myo', 'LV')
SHAPE = (4, 10, 12)


def make_metric(**kwargs) -> MedicalMetric:
    metric = MedicalMetric(**kwargs)
    metric.dataset_meta = dict(classes=CLASSES)
    return metric


def evaluate(metric, cases):
    """Feed (case_id, pred, gt[, spacing]) volumes slice by slice."""
    for case in cases:
        metric.process(None, volume_samples(*case))
    return metric.compute_metrics(metric.results)


def hand_case():
    """RV perfect; Myo a 2x2x2 cube inside a 2x2x4 box (Dice 2/3, Jaccard
    1/2); LV two 2x2x2 cubes 3 voxels apart along x (HD95 3, ASD 2.5)."""
    gt = np.zeros(SHAPE, np.uint8)
    pred = np.zeros(SHAPE, np.uint8)
    rv = cube(SHAPE, (0, 0, 0), (2, 3, 3))
    gt[rv] = pred[rv] = 1
    gt[cube(SHAPE, (2, 0, 0), (2, 2, 4))] = 2
    pred[cube(SHAPE, (2, 0, 0), (2, 2, 2))] = 2
    gt[cube(SHAPE, (0, 6, 0), (2, 2, 2))] = 3
    pred[cube(SHAPE, (0, 6, 3), (2, 2, 2))] = 3
    return pred, gt


def test_hand_computed_scores_in_voxels():
    pred, gt = hand_case()
    m = evaluate(make_metric(num_workers=0), [('p1', pred, gt)])
    assert m['Dice_RV'] == pytest.approx(100.0)
    assert m['HD95_RV'] == 0.0 and m['ASD_RV'] == 0.0
    assert m['Dice_Myo'] == pytest.approx(200.0 / 3)
    assert m['Jaccard_Myo'] == pytest.approx(50.0)
    assert m['Dice_LV'] == 0.0 and m['Jaccard_LV'] == 0.0
    assert m['HD95_LV'] == pytest.approx(3.0)
    assert m['ASD_LV'] == pytest.approx(2.5)
    assert m['mDice'] == pytest.approx((100 + 200 / 3 + 0) / 3)
    assert m['mJaccard'] == pytest.approx(50.0)
    assert m['mHD95'] == pytest.approx(
        (0 + binary.hd95(pred == 2, gt == 2) + 3) / 3)
    assert set(m) == {f'{s}_{c}' for s in ('Dice', 'Jaccard', 'HD95', 'ASD')
                      for c in CLASSES[1:]} | {'mDice', 'mJaccard', 'mHD95',
                                              'mASD'}


def test_distances_in_mm_use_the_spacing(monkeypatch):
    logged = []
    monkeypatch.setattr(metric_module, 'print_log',
                        lambda msg, **kw: logged.append(msg))
    pred, gt = hand_case()
    spacing = (5.0, 1.5, 0.7)
    m = evaluate(make_metric(distance_unit='mm', split='val'),
                 [('p1', pred, gt, spacing)])
    assert "split 'val': 1 volumes, distances in mm" in logged[0]
    assert 'HD95 (mm)' in logged[0]
    assert m['HD95_LV'] == pytest.approx(3 * 0.7)
    assert m['ASD_LV'] == pytest.approx(2.5 * 0.7)
    assert m['HD95_Myo'] == pytest.approx(
        binary.hd95(pred == 2, gt == 2, spacing), abs=1e-6)
    # Dice does not depend on the unit
    assert m['Dice_Myo'] == pytest.approx(200.0 / 3)


def test_mm_without_spacing_names_the_case():
    pred, gt = hand_case()
    with pytest.raises(ValueError, match="distance_unit='mm'.*case 'p7' has "
                       "no 'spacing'"):
        evaluate(make_metric(distance_unit='mm'), [('p7', pred, gt)])


def table_rows(table: str) -> dict:
    """Cells of a PrettyTable's data rows, keyed by the first cell."""
    rows = {}
    for line in table.splitlines():
        if line.startswith('|'):
            cells = [c.strip() for c in line.strip().strip('|').split('|')]
            rows[cells[0]] = cells[1:]
    return rows


def two_cases_lv_missed():
    """Case a: everything perfect. Case b: LV missed, RV in neither."""
    pred_a, gt_a = hand_case()
    pred_a = gt_a.copy()
    gt_b = gt_a.copy()
    gt_b[gt_b == 1] = 0
    pred_b = gt_b.copy()
    pred_b[pred_b == 3] = 0
    return [('a', pred_a, gt_a), ('b', pred_b, gt_b)]


def test_empty_prediction_is_dice_zero_and_missing_distance(monkeypatch):
    logged = []
    monkeypatch.setattr(metric_module, 'print_log',
                        lambda msg, **kw: logged.append(msg))
    m = evaluate(make_metric(), two_cases_lv_missed())
    assert m['Dice_LV'] == pytest.approx(50.0)  # (100 + 0) / 2
    assert m['HD95_LV'] == 0.0  # case b's distance is missing, not 0
    # RV is in neither volume of case b: that case is skipped for RV
    assert m['Dice_RV'] == pytest.approx(100.0)
    table = logged[0]
    rows = table_rows(table)
    assert rows['LV'] == ['50.00', '50.00', '0.00', '0.00', '2', '1', '0']
    assert rows['RV'][-3:] == ['1', '0', '1']  # cases, missing, absent
    assert rows['mean'][0] == '83.33'  # (100 + 100 + 50) / 3
    assert 'HD95 (vox)' in table and 'distances in voxels' in table
    assert "split 'unknown'" in table


def test_empty_prediction_penalty():
    m = evaluate(make_metric(empty_distance_penalty=dict(hd95=50, asd=10)),
                 two_cases_lv_missed())
    assert m['HD95_LV'] == pytest.approx(25.0)
    assert m['ASD_LV'] == pytest.approx(5.0)
    assert m['Dice_LV'] == pytest.approx(50.0)


def test_class_missing_everywhere_gives_nan_not_a_fake_number():
    pred, gt = hand_case()
    pred[pred == 3] = 0
    m = evaluate(make_metric(), [('p1', pred, gt)])
    assert m['Dice_LV'] == 0.0
    assert math.isnan(m['HD95_LV']) and math.isnan(m['mHD95'])
    assert not math.isnan(m['HD95_Myo'])


def random_cases(rng, n=3):
    cases = []
    for i in range(n):
        gt = rng.integers(0, 4, SHAPE).astype(np.uint8)
        pred = gt.copy()
        flip = rng.random(SHAPE) < 0.3
        pred[flip] = rng.integers(0, 4, int(flip.sum()))
        cases.append((f'c{i}', pred, gt, tuple(rng.uniform(0.5, 6, 3))))
    return cases


@pytest.mark.parametrize('unit', ['voxel', 'mm'])
def test_equals_a_medpy_loop_on_random_volumes(unit):
    cases = random_cases(np.random.default_rng(3))
    expected = {s: [] for s in ('Dice', 'Jaccard', 'HD95', 'ASD')}
    for _, pred, gt, spacing in cases:
        sp = spacing if unit == 'mm' else None
        for c in (1, 2, 3):
            p, g = pred == c, gt == c
            expected['Dice'].append(100 * binary.dc(p, g))
            expected['Jaccard'].append(100 * binary.jc(p, g))
            expected['HD95'].append(binary.hd95(p, g, sp))
            expected['ASD'].append(binary.asd(p, g, sp))
    serial = evaluate(make_metric(distance_unit=unit, num_workers=0), cases)
    threaded = evaluate(make_metric(distance_unit=unit, num_workers=2), cases)
    assert serial == threaded
    for s, values in expected.items():
        per_class = np.asarray(values).reshape(len(cases), 3).mean(0)
        for name, value in zip(CLASSES[1:], per_class):
            assert serial[f'{s}_{name}'] == pytest.approx(value, abs=1e-6)
        assert serial[f'm{s}'] == pytest.approx(per_class.mean(), abs=1e-6)


def test_real_seg_data_samples_through_mmengine_evaluator():
    pred, gt = hand_case()
    evaluator = Evaluator(
        METRICS.build(dict(type='MedicalMetric', split='val')))
    evaluator.dataset_meta = dict(classes=CLASSES)
    for z in range(len(gt)):
        sample = SegDataSample(metainfo=dict(
            case_id='p1', slice_idx=z, num_slices=len(gt),
            ori_shape=gt[z].shape, spacing=(5.0, 1.5, 0.7)))
        sample.pred_sem_seg = PixelData(data=torch.from_numpy(pred[z])[None])
        sample.gt_sem_seg = PixelData(data=torch.from_numpy(gt[z])[None])
        evaluator.process(data_samples=[sample])
    m = evaluator.evaluate(len(gt))
    assert m['HD95_LV'] == pytest.approx(3.0)
    assert m['Dice_Myo'] == pytest.approx(200.0 / 3)


def test_classes_by_name_or_index():
    pred, gt = hand_case()
    m = evaluate(make_metric(classes=['LV', 'Myo']), [('p1', pred, gt)])
    assert sorted(m) == sorted(['mDice', 'mJaccard', 'mHD95', 'mASD'] + [
        f'{s}_{c}' for s in ('Dice', 'Jaccard', 'HD95', 'ASD')
        for c in ('LV', 'Myo')])
    assert m['mDice'] == pytest.approx(100.0 / 3)
    bare = MedicalMetric(classes=[3])  # no dataset_meta: generic names
    assert evaluate(bare, [('p1', pred, gt)])['HD95_class3'] == \
        pytest.approx(3.0)


def test_output_dir_writes_csv_and_json(tmp_path):
    metric = make_metric(output_dir=str(tmp_path), split='test',
                         empty_distance_penalty=None)
    m = evaluate(metric, two_cases_lv_missed())
    with open(tmp_path / 'per_case_metrics.csv') as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 6
    missed = next(r for r in rows if r['case_id'] == 'b' and
                  r['class'] == 'LV')
    assert missed['status'] == 'empty_prediction'
    assert float(missed['dice']) == 0.0 and missed['hd95'] == ''
    absent = next(r for r in rows if r['case_id'] == 'b' and
                  r['class'] == 'RV')
    assert absent['status'] == 'absent'
    summary = json.loads((tmp_path / 'metrics_summary.json').read_text())
    assert summary['protocol']['split'] == 'test'
    assert summary['protocol']['distance_unit'] == 'voxel'
    assert summary['protocol']['num_cases'] == 2
    assert 'missing' in summary['protocol']['one_side_empty']
    assert summary['metrics']['mDice'] == pytest.approx(m['mDice'])
    assert summary['per_class']['LV']['num_missing_distance'] == 1


def test_process_rejects_bad_samples():
    metric = make_metric()
    sample = volume_samples('p3', np.zeros((1, 4, 4)), np.zeros((1, 4, 5)))
    with pytest.raises(ValueError, match=r"case 'p3' slice 0: prediction "
                       r'shape \(4, 4\) differs from label shape \(4, 5\)'):
        metric.process(None, sample)
    sample = volume_samples('p3', np.zeros((1, 4, 4)), np.zeros((1, 4, 4)))
    del sample[0]['num_slices']
    with pytest.raises(KeyError, match="no 'num_slices'"):
        metric.process(None, sample)


def test_gap_in_slices_names_the_case():
    pred, gt = hand_case()
    metric = make_metric()
    samples = volume_samples('p9', pred, gt)
    metric.process(None, samples[:1] + samples[2:])
    with pytest.raises(ValueError, match=r"case 'p9': slices \[1\] of "
                       'num_slices=4 are missing'):
        metric.compute_metrics(metric.results)


def test_bad_configuration():
    with pytest.raises(ValueError, match="distance_unit must be 'voxel' or "
                       "'mm'"):
        MedicalMetric(distance_unit='cm')
    with pytest.raises(ValueError, match=r'empty_distance_penalty must be '
                       r'None or dict\(hd95=..., asd=...\)'):
        MedicalMetric(empty_distance_penalty=dict(hd=50))
    pred, gt = hand_case()
    with pytest.raises(ValueError, match="dataset_meta\\['classes'\\] is not "
                       'set'):
        evaluate(MedicalMetric(), [('p1', pred, gt)])
    with pytest.raises(ValueError, match="class 'Aorta' in classes="):
        evaluate(make_metric(classes=['Aorta']), [('p1', pred, gt)])


def test_prediction_maps_keep_the_source_geometry(tmp_path):
    # as mmseg's --out keeps prediction maps: one NIfTI per volume, in the
    # orientation and affine of the NIfTI the h5 volume was converted from
    import h5py
    import nibabel as nib
    pred = np.random.default_rng(0).integers(0, 4, SHAPE).astype(np.uint8)
    affine = np.array([[-1.5, 0, 0, 10.], [0, 1.5, 0, -4.], [0, 0, 8., 2.],
                       [0, 0, 0, 1.]])
    source = tmp_path / 'patient001_frame01.h5'
    with h5py.File(source, 'w') as f:
        f.create_dataset('image', data=np.zeros(SHAPE, np.float32))
        f.attrs['affine'] = affine
        f.attrs['nifti_axes'] = 'zyx'
        f.attrs['sform_code'] = 2
    metric = make_metric(prediction_dir=str(tmp_path / 'pred'))
    samples = volume_samples('patient001_frame01', pred, pred)
    for sample in samples:
        sample['img_path'] = str(source)
    metric.process(None, samples)
    metric.process(None, volume_samples('nofile', pred, pred, (8., 2., 3.)))
    metric.compute_metrics(metric.results)
    img = nib.load(tmp_path / 'pred' / 'patient001_frame01_seg.nii.gz')
    np.testing.assert_array_equal(img.affine, affine)
    assert int(img.header['sform_code']) == 2
    np.testing.assert_array_equal(np.asarray(img.dataobj),
                                  pred.transpose(2, 1, 0))
    bare = nib.load(tmp_path / 'pred' / 'nofile_seg.nii.gz')
    assert bare.header.get_zooms() == (3.0, 2.0, 8.0)
