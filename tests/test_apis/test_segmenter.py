"""Segmenter on a tiny random model: formats, geometry and the evaluation
path."""
import h5py
import nibabel as nib
import numpy as np
import pytest
import torch

from projects.aigcmatch.apis import Segmenter, load_segmentor
from .tiny_model import ACDC_META, write_checkpoint, write_config


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp('tiny_model')
    config = write_config(str(folder))
    ckpt = write_checkpoint(config, str(folder / 'tiny.pth'))
    return config, ckpt


@pytest.fixture(scope='module')
def segmenter(tiny):
    return Segmenter(*tiny, device='cpu', batch_size=4)


def test_reads_classes_and_input_size(segmenter):
    assert segmenter.class_names == ACDC_META['classes']
    assert segmenter.input_size == (256, 256)
    assert segmenter.num_classes == 4
    assert str(segmenter.device) == 'cpu'


def test_nifti_in_nifti_out_keeps_shape_affine_spacing(segmenter, tmp_path):
    affine = np.array([[0, 0, 6.5, -3], [-1.4, 0, 0, 12], [0, 1.3, 0, 7],
                       [0, 0, 0, 1.0]])  # oblique-free but permuted axes
    data = np.random.default_rng(0).normal(300, 80, (23, 19, 3))
    src = nib.Nifti1Image(data.astype(np.float32), affine)
    src.set_qform(affine, code=1)
    src.set_sform(affine, code=1)
    path = str(tmp_path / 'patient150_frame01.nii.gz')
    nib.save(src, path)

    result = segmenter.segment(path, return_probs=True)
    assert result.labels.shape == (3, 19, 23)  # (D, H, W)
    assert result.labels.dtype == np.uint8
    assert set(np.unique(result.labels)) <= {0, 1, 2, 3}
    assert result.probs.shape == (4, 3, 19, 23)
    np.testing.assert_allclose(result.probs.sum(0), 1.0, atol=1e-5)
    np.testing.assert_array_equal(result.probs.argmax(0), result.labels)
    zooms = nib.load(path).header.get_zooms()
    assert result.spacing == pytest.approx(tuple(zooms[::-1]))
    lv = int((result.labels == 3).sum())
    assert result.voxel_counts['LV'] == lv
    assert result.volumes_ml['LV'] == pytest.approx(
        lv * float(np.prod(zooms)) / 1000)

    written = result.save(str(tmp_path / 'out'), overlay=True)
    out = nib.load(written['labels'])
    ref = nib.load(path)
    assert out.shape == ref.shape
    np.testing.assert_array_equal(out.affine, ref.affine)
    assert out.header.get_zooms() == ref.header.get_zooms()
    np.testing.assert_array_equal(out.get_qform(), ref.get_qform())
    np.testing.assert_array_equal(out.get_sform(), ref.get_sform())
    arr = np.asarray(out.dataobj)
    assert arr.dtype == np.uint8 and set(np.unique(arr)) <= {0, 1, 2, 3}
    np.testing.assert_array_equal(arr, result.labels.transpose(2, 1, 0))
    assert len(written['overlays']) == 3


def _write_volume(root, case, image, label, spacing):
    data = root / 'data'
    data.mkdir(parents=True, exist_ok=True)
    with h5py.File(data / f'{case}.h5', 'w') as f:
        f.create_dataset('image', data=image)
        f.create_dataset('label', data=label)
        f.attrs['spacing'] = np.asarray(spacing)
    return str(data / f'{case}.h5')


def test_same_prediction_as_the_evaluation_pipeline(tiny, segmenter, tmp_path):
    """Segmenter == ACDCDataset(volume) + test pipeline + model.test_step,
    i.e. what tools/test.py scores."""
    from mmengine.config import Config
    from mmseg.registry import DATASETS

    rng = np.random.default_rng(3)
    image = rng.random((3, 30, 26)).astype(np.float32)
    image[0, 0, 0], image[1, 1, 1] = 0.0, 1.0  # already min-max normalised
    label = rng.integers(0, 4, image.shape).astype(np.uint8)
    path = _write_volume(tmp_path, 'patient001_frame01', image, label,
                         (10.0, 1.5, 1.5))
    (tmp_path / 'split.txt').write_text('patient001\n')
    cfg = Config.fromfile(tiny[0])
    dataset = DATASETS.build(
        dict(
            type='ACDCDataset',
            data_root=str(tmp_path),
            split=str(tmp_path / 'split.txt'),
            mode='volume',
            pipeline=cfg.test_pipeline))
    model = segmenter.model
    expected = np.zeros(image.shape, np.uint8)
    with torch.no_grad():
        for i in range(len(dataset)):
            sample = dataset[i]
            out = model.test_step(
                dict(
                    inputs=[sample['inputs']],
                    data_samples=[sample['data_samples']]))
            expected[out[0].slice_idx] = out[0].pred_sem_seg.data[0].numpy()
    assert len(np.unique(expected)) > 1  # a varied prediction, not constant
    result = segmenter.segment(path)
    np.testing.assert_array_equal(result.labels, expected)
    assert result.spacing == (10.0, 1.5, 1.5)


def test_intensity_scale_does_not_matter(segmenter):
    volume = np.random.default_rng(4).random((2, 17, 21)).astype(np.float32)
    a = segmenter.segment(volume).labels
    b = segmenter.segment(volume * 900.0 - 40.0).labels  # per-volume min-max
    np.testing.assert_array_equal(a, b)


def test_normalisation_comes_from_the_config(tiny, tmp_path):
    # the default when the config says nothing: robust min-max
    assert Segmenter(*tiny, device='cpu').intensity_norm.method == \
        'robust_minmax'
    with open(tiny[0]) as f:
        text = f.read()
    config = tmp_path / 'minmax.py'
    config.write_text(text + "\nintensity_norm = dict(method='minmax')\n")
    assert Segmenter(str(config), tiny[1]).intensity_norm.method == 'minmax'
    config.write_text(text + "\nintensity_norm = 'zscore'\n")
    with pytest.raises(ValueError, match=r"intensity_norm\.method='zscore'"):
        Segmenter(str(config), tiny[1])


def test_2d_slice_keeps_its_shape(segmenter):
    result = segmenter.segment(
        np.random.default_rng(5).random((31, 27)),
        spacing=(8.0, 1.0, 1.0),
        return_probs=True)
    assert result.labels.shape == (31, 27)
    assert result.probs.shape == (4, 31, 27)
    assert result.volumes_ml['LV'] == pytest.approx(result.voxel_counts['LV'] *
                                                    0.008)


def test_checkpoint_for_other_number_of_classes_is_refused(tiny, tmp_path):
    config3 = write_config(str(tmp_path), num_classes=3, name='three.py')
    ckpt3 = write_checkpoint(config3, str(tmp_path / 'three.pth'))
    with pytest.raises(
            ValueError,
            match=r'three\.pth was trained for 3 '
            r'classes .* has num_classes=4'):
        Segmenter(tiny[0], ckpt3, device='cpu')


def test_checkpoint_missing_parameters_is_refused(tiny, tmp_path):
    state = torch.load(tiny[1], weights_only=True)['state_dict']
    state = {k: v for k, v in state.items() if not k.startswith('backbone')}
    path = str(tmp_path / 'partial.pth')
    torch.save({'state_dict': state}, path)
    with pytest.raises(
            ValueError,
            match=r'partial\.pth does not fit the '
            r'model .* parameters are missing, e\.g\. backbone'):
        load_segmentor(tiny[0], path, device='cpu')
    with pytest.raises(FileNotFoundError, match=r'nope\.pth: no such file'):
        load_segmentor(tiny[0], str(tmp_path / 'nope.pth'))


def test_mmseg_init_model_route(tiny, segmenter):
    from mmseg.apis import init_model
    model = init_model(tiny[0], tiny[1], device='cpu')
    assert model.dataset_meta['classes'] == ACDC_META['classes']
    via_mmseg = Segmenter.from_model(model)
    volume = np.random.default_rng(6).random((2, 20, 20))
    np.testing.assert_array_equal(
        via_mmseg.segment(volume).labels,
        segmenter.segment(volume).labels)


def test_checkpoint_weights_are_used(tiny, tmp_path):
    # a planted checkpoint whose head says "LV" everywhere must predict LV
    # everywhere: the weights were loaded, not left at their random init
    path = write_checkpoint(
        tiny[0], str(tmp_path / 'lv.pth'), lv_everywhere=True, meta=False)
    planted = Segmenter(tiny[0], path, device='cpu')
    labels = planted.segment(np.random.default_rng(7).random((2, 9, 9))).labels
    assert (labels == 3).all()
    # without dataset_meta in the checkpoint, names come from the config's
    # dataset or, as here, are generic
    assert planted.class_names == ('background', 'class1', 'class2', 'class3')


def test_pipeline_is_the_test_loaders_as_in_tools_test(tiny):
    # tools/test.py evaluates with test_dataloader.dataset.pipeline; a
    # top-level test_pipeline left at another size must not win here
    from mmengine.config import Config
    config, ckpt = tiny
    cfg = Config.fromfile(config)
    loader_pipeline = [dict(step) for step in cfg.test_pipeline]
    loader_pipeline[1]['scale'] = (64, 48)
    cfg.test_dataloader = dict(
        dataset=dict(
            type='RepeatDataset',
            times=1,
            dataset=dict(type='ACDCDataset', pipeline=loader_pipeline)))
    seg = Segmenter(cfg, ckpt, device='cpu')
    assert seg.input_size == (48, 64)  # mmcv's scale is (w, h)
    cfg.pop('test_dataloader')
    assert Segmenter(cfg, ckpt, device='cpu').input_size == (256, 256)
