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
    h, w = SHAPE[1:]
    assert panel.shape == (h, 3 * w + 4, 3)  # [image | gt | pred], gaps 2
    image = panel[:, :w]
    assert (image[..., 0] == image[..., 1]).all()  # plain gray
    gt_panel = panel[:, w + 2:2 * w + 2].astype(int)
    inside_lv = gt_panel[15, 13]  # label 3 (LV, blue), away from the outline
    assert inside_lv[2] > inside_lv[0] + 40
    inside_rv = gt_panel[6, 5]  # label 1 (RV, red)
    assert inside_rv[0] > inside_rv[2] + 40
    np.testing.assert_array_equal(gt_panel[0, 0], image[0, 0])  # background


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
