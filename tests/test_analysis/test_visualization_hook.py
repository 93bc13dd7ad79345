"""MedicalSegVisualizationHook in a real mmengine test run on h5 volumes."""
import importlib.util
import os
import os.path as osp

import cv2
import h5py
import numpy as np
import pytest
from mmengine.config import Config
from mmengine.runner import Runner

from projects.aigcmatch.visualization import (MedicalSegVisualizationHook,
                                              auto_vis_backends,
                                              overlay_labels, to_gray_rgb)
from projects.aigcmatch.visualization import medical_seg_visualizer
from test_apis.tiny_model import write_checkpoint, write_config

SHAPE = (2, 24, 20)  # (D, H, W) of the one test volume


def write_tree(root):
    rng = np.random.default_rng(0)
    image = rng.random(SHAPE).astype(np.float32)
    label = np.zeros(SHAPE, np.uint8)
    label[:, 4:10, 3:8] = 1
    label[:, 12:20, 10:18] = 3
    os.makedirs(osp.join(root, 'data'))
    with h5py.File(osp.join(root, 'data', 'patient001_frame01.h5'), 'w') as f:
        f.create_dataset('image', data=image)
        f.create_dataset('label', data=label)
        f.attrs['spacing'] = np.array([10.0, 1.5, 1.5])
    with open(osp.join(root, 'split.txt'), 'w') as f:
        f.write('patient001\n')
    return label


def run_test(tmp_path, draw):
    root = str(tmp_path / 'acdc')
    label = write_tree(root)
    config_path = write_config(str(tmp_path))
    ckpt = write_checkpoint(config_path, str(tmp_path / 'tiny.pth'))
    tiny = Config.fromfile(config_path)
    show_dir = str(tmp_path / 'show')
    cfg = Config(
        dict(
            default_scope='mmseg',
            model=tiny.model,
            work_dir=str(tmp_path / 'work'),
            test_dataloader=dict(
                batch_size=2,
                num_workers=0,
                sampler=dict(type='DefaultSampler', shuffle=False),
                dataset=dict(
                    type='ACDCDataset',
                    data_root=root,
                    split=osp.join(root, 'split.txt'),
                    mode='volume',
                    pipeline=tiny.test_pipeline)),
            test_evaluator=dict(type='MedicalMetric', num_workers=0),
            test_cfg=dict(type='TestLoop'),
            # what configs/_base_/default_runtime.py is asked to hold, with
            # tools/test.py --show-dir's two changes (draw, save_dir) applied
            default_hooks=dict(
                visualization=dict(
                    type='MedicalSegVisualizationHook', draw=draw,
                    interval=1)),
            visualizer=dict(
                type='MedicalSegVisualizer',
                save_dir=show_dir,
                name=f'vis_{tmp_path.name}'),
            load_from=ckpt,
            env_cfg=dict(dist_cfg=dict(backend='gloo')),
            log_level='WARNING'))
    Runner.from_cfg(cfg).test()
    return label, osp.join(show_dir, 'vis_data', 'vis_image')


def test_overlays_written_for_every_slice(tmp_path):
    label, image_dir = run_test(tmp_path, draw=True)
    names = sorted(os.listdir(image_dir))
    assert names == [
        'test_patient001_frame01_slice_0_0.png',
        'test_patient001_frame01_slice_1_0.png'
    ]
    panel = cv2.cvtColor(
        cv2.imread(osp.join(image_dir, names[0])), cv2.COLOR_BGR2RGB)
    # a readable size: 24 x 20 pixels of 1.5 mm, shorter side 320 px
    h, w = 384, 320
    top = 28 + 24  # title, column headers
    assert panel.shape[1] == 3 * w + 2 * 4
    assert panel.shape[0] > top + h  # legend below
    image = panel[top:top + h, :w]
    assert (image[..., 0] == image[..., 1]).all()  # plain gray
    gt_panel = panel[top:top + h, w + 4:2 * w + 4].astype(int)
    scale = h / SHAPE[1]
    inside_lv = gt_panel[int(15 * scale), int(13 * scale)]  # LV, blue
    assert inside_lv[2] > inside_lv[0] + 40
    inside_rv = gt_panel[int(6 * scale), int(5 * scale)]  # RV, red
    assert inside_rv[0] > inside_rv[2] + 40
    np.testing.assert_array_equal(gt_panel[0, 0], image[0, 0])  # background
    # a title and headers (dark text on white) and a legend of the classes
    assert (panel[:top] < 100).any() and (panel[:top] == 255).mean() > 0.8
    legend = panel[top + h:]
    for color in ([255, 0, 0], [0, 255, 0], [0, 0, 255]):
        assert (legend == color).all(axis=-1).sum() > 100, color


def draw_one(attrs, image, label, **kwargs):
    hook = MedicalSegVisualizationHook(draw=True, min_size=64, **kwargs)
    palette = [(0, 0, 0), (255, 0, 0), (0, 255, 0), (0, 0, 255)]
    return hook.draw_labelled_panel(
        image, label, label, palette, ['background', 'RV', 'Myo', 'LV'],
        dict(case_id='ct', slice_idx=0, num_slices=1), attrs)


def test_radiological_orientation_from_the_affine():
    from projects.aigcmatch.visualization.slice_view import radiological_view
    # RAS volume stored (z, y, x): row index runs anterior, column right;
    # shown anterior at the top and the patient's right on the left
    view = radiological_view(np.diag([1.5, 1.5, 3.0, 1.0]), 'zyx')
    assert (view.transpose, view.flip_rows, view.flip_cols,
            view.codes) == (False, True, True, 'PL')
    # LPS (DICOM-like storage): rows already run to P, columns to L
    lps = radiological_view(np.diag([-1.0, -1.0, 1.0, 1.0]), 'zyx')
    assert (lps.flip_rows, lps.flip_cols) == (False, False)
    # a sagittal stack: superior at the top, anterior on the left
    sag = np.array([[0, 0, 1.0, 0], [1.0, 0, 0, 0], [0, 1.0, 0, 0],
                    [0, 0, 0, 1]])  # i -> A, j -> S, k -> R
    view = radiological_view(sag, 'zyx')
    assert view.codes == 'IP' and view.flip_rows and view.flip_cols
    assert radiological_view(None).codes == ''
    # a marker in the anterior-right corner of a RAS slice ends top-left
    image = np.zeros((8, 6), np.float32)
    image[7, 5] = 1.0  # last row (most anterior), last column (rightmost)
    label = np.zeros((8, 6), np.uint8)
    panel = draw_one(dict(affine=np.eye(4), nifti_axes='zyx'), image, label,
                     window='minmax')
    body = panel[28 + 24:28 + 24 + 85, :64]  # 8 x 6 -> 85 x 64
    assert body[:10, :8].mean() > 200 and body[-10:, -8:].mean() < 50


def test_ct_gets_a_soft_tissue_window():
    from projects.aigcmatch.visualization.slice_view import (display_window,
                                                             is_ct)
    hu = np.array([[-1000.0, -160.0, 40.0, 240.0, 1000.0]], np.float32)
    lo, hi = -1000.0, 1000.0
    stored = (hu - lo) / (hi - lo)
    attrs = dict(intensity_range=np.array([lo, hi]))
    assert is_ct(attrs) and not is_ct(dict(intensity_range=[0.0, 900.0]))
    assert is_ct(dict(modality=b'CT', intensity_range=[0.0, 900.0]))
    low, high = display_window(stored, attrs)
    assert (low, high) == pytest.approx(((-160 - lo) / 2000,
                                         (240 - lo) / 2000))
    panel = draw_one(attrs, np.repeat(stored, 4, axis=0),
                     np.zeros((4, 5), np.uint8), orientation='stored')
    row = panel[28 + 24 + 5, :80, 0].astype(int)  # 4 x 5 -> 64 x 80
    # air black, -160 HU black, 40 HU mid-gray, 240 HU and bone white
    assert row[8] == 0 and row[24] < 10 and 110 < row[40] < 145
    assert row[56] > 245 and row[72] == 255
    # MR keeps its own min-max
    assert display_window(stored, {}) == (0.0, 1.0)

def test_nothing_drawn_unless_draw(tmp_path):
    _, image_dir = run_test(tmp_path, draw=False)
    assert not osp.exists(image_dir) or os.listdir(image_dir) == []


def test_panel_from_file_equals_original_slice(tmp_path):
    write_tree(str(tmp_path))
    path = osp.join(str(tmp_path), 'data', 'patient001_frame01.h5')
    with h5py.File(path, 'r') as f:
        original = f['image'][1]
    hook = MedicalSegVisualizationHook(draw=True, image_source='file')
    from mmseg.structures import SegDataSample
    sample = SegDataSample(metainfo=dict(img_path=path, slice_idx=1))
    image = hook._image(sample, None, 0, original.shape)
    np.testing.assert_array_equal(image, original)


def test_bad_hook_arguments():
    with pytest.raises(ValueError, match='interval must be >= 1'):
        MedicalSegVisualizationHook(interval=0)
    with pytest.raises(ValueError, match="image_source must be one of"):
        MedicalSegVisualizationHook(image_source='path')
    with pytest.raises(ValueError, match="window must be one of"):
        MedicalSegVisualizationHook(window='ct')
    with pytest.raises(ValueError, match="orientation must be one of"):
        MedicalSegVisualizationHook(orientation='ras')


def test_overlay_keeps_background_and_tints_classes():
    gray = to_gray_rgb(np.linspace(0, 1, 30, dtype=np.float32).reshape(5, 6))
    labels = np.zeros((5, 6), np.uint8)
    labels[1:4, 1:4] = 2
    out = overlay_labels(
        gray,
        labels, [(0, 0, 0), (255, 0, 0), (0, 255, 0)],
        alpha=0.5,
        contour=False)
    np.testing.assert_array_equal(out[labels == 0], gray[labels == 0])
    expected = (0.5 * gray[2, 2].astype(float) +
                0.5 * np.array([0, 255, 0])).astype(np.uint8)
    np.testing.assert_array_equal(out[2, 2], expected)


def test_auto_backends_follow_tensorboard(monkeypatch):
    real = importlib.util.find_spec

    def fake(name, *args):
        if name == 'tensorboard':
            return object()
        return real(name, *args)

    has_tb = real('tensorboard') is not None
    types = [b['type'] for b in auto_vis_backends()]
    assert types == ['LocalVisBackend'
                     ] + (['TensorboardVisBackend'] if has_tb else [])
    monkeypatch.setattr(medical_seg_visualizer.importlib.util, 'find_spec',
                        fake)
    assert [b['type'] for b in auto_vis_backends()
            ] == ['LocalVisBackend', 'TensorboardVisBackend']
