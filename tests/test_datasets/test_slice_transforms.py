"""Weak geometry, strong photometry and the multi-view packer."""
import numpy as np
import pytest
import torch
from mmseg.registry import TRANSFORMS
from scipy.ndimage import gaussian_filter

from projects.aigcmatch.datasets.transforms import (GrayscaleColorJitter,
                                                    PackMultiViewInputs,
                                                    RandomGaussianBlur,
                                                    RandomRotFlipOrRotate)


def label_and_image(shape=(24, 20)):
    """A label with all classes and an image whose intensity is its label."""
    label = np.zeros(shape, np.uint8)
    label[2:6, 3:9] = 1
    label[8:13, 5:11] = 2
    label[15:21, 12:18] = 3
    return label, label.astype(np.float32)


def results_of(label, image):
    return dict(
        img=image.copy(),
        gt_seg_map=label.copy(),
        seg_fields=['gt_seg_map'],
        img_shape=image.shape,
        ori_shape=image.shape,
        case_id='c',
        slice_idx=0)


@pytest.mark.parametrize('branch', ['rotflip', 'rotate'])
def test_weak_geometry_keeps_image_and_label_aligned(branch):
    np.random.seed(0)
    probs = dict(rotflip_prob=1., rotate_prob=0.) if branch == 'rotflip' \
        else dict(rotflip_prob=0., rotate_prob=1.)
    transform = RandomRotFlipOrRotate(**probs)
    label, image = label_and_image()
    changed = 0
    for _ in range(20):
        out = transform(results_of(label, image))
        assert out['img'].dtype == np.float32
        assert out['gt_seg_map'].dtype == np.uint8
        # Nearest on both: the image still equals its label everywhere.
        np.testing.assert_array_equal(out['img'], out['gt_seg_map'])
        assert set(np.unique(out['gt_seg_map'])) <= {0, 1, 2, 3}
        assert out['img_shape'] == out['img'].shape
        if out['img'].shape != image.shape or not np.array_equal(
                out['img'], image):
            changed += 1
    assert changed >= 15
    if branch == 'rotflip':
        # Pixel counts of every class survive a rot90/flip exactly.
        np.testing.assert_array_equal(
            np.bincount(out['gt_seg_map'].ravel(), minlength=4),
            np.bincount(label.ravel(), minlength=4))
    else:
        assert out['img'].shape == image.shape  # rotation keeps the size


def test_weak_geometry_image_interpolation_is_configurable():
    np.random.seed(0)
    label, image = label_and_image()
    transform = RandomRotFlipOrRotate(
        rotflip_prob=0.,
        rotate_prob=1.,
        degree=(10, 20),
        interpolation='bilinear')
    out = transform(results_of(label, image))
    # The image blends across class borders; the label never does.
    assert not np.array_equal(out['img'], out['gt_seg_map'])
    assert np.any((out['img'] % 1) > 0)
    assert set(np.unique(out['gt_seg_map'])) <= {0, 1, 2, 3}


def test_weak_geometry_branch_probabilities():
    np.random.seed(1)
    transform = RandomRotFlipOrRotate()
    label, image = label_and_image((12, 10))  # non-square: rot90 shows
    counts = dict(identity=0, transposed=0, other=0)
    n = 400
    for _ in range(n):
        out = transform(results_of(label, image))['img']
        if out.shape == (10, 12):
            counts['transposed'] += 1
        elif np.array_equal(out, image):
            counts['identity'] += 1
        else:
            counts['other'] += 1
    # P(identity) = 0.5 * 0.5; odd k in the rot-flip branch: 0.5 * 0.5.
    assert abs(counts['identity'] / n - 0.25) < 0.07
    assert abs(counts['transposed'] / n - 0.25) < 0.07
    identity = RandomRotFlipOrRotate(rotflip_prob=0., rotate_prob=0.)
    np.testing.assert_array_equal(
        identity(results_of(label, image))['img'], image)
    with pytest.raises(
            ValueError, match=r'rotate_prob=1.5; expected a '
            'probability'):
        RandomRotFlipOrRotate(rotate_prob=1.5)


def test_color_jitter():
    np.random.seed(0)
    _, image = label_and_image()
    image = image / 3.
    off = GrayscaleColorJitter(prob=0.)
    np.testing.assert_array_equal(off(dict(img=image.copy()))['img'], image)
    jitter = GrayscaleColorJitter(brightness=0.5, contrast=0.5, prob=1.)
    outs = [jitter(dict(img=image.copy()))['img'] for _ in range(10)]
    for out in outs:
        assert out.dtype == np.float32 and out.shape == image.shape
        assert out.min() >= 0. and out.max() <= 1.
        assert not np.allclose(out, image)
        # Brightness and contrast are monotone: the intensity order stays.
        order = np.argsort(image.ravel(), kind='stable')
        assert np.all(np.diff(out.ravel()[order]) >= -1e-6)
    assert not np.allclose(outs[0], outs[1])  # independent draws
    # Contrast alone keeps the mean (no clipping needed here).
    only_contrast = GrayscaleColorJitter(
        brightness=0., contrast=0.3, prob=1., clip_range=None)
    out = only_contrast(dict(img=image.copy()))['img']
    assert out.mean() == pytest.approx(image.mean(), abs=1e-5)


def test_gaussian_blur_matches_scipy():
    _, image = label_and_image()
    np.random.seed(3)
    out = RandomGaussianBlur(sigma=(0.1, 2.), prob=1.)(dict(img=image))['img']
    np.random.seed(3)
    np.random.rand()  # the prob draw
    sigma = np.random.uniform(0.1, 2.)
    np.testing.assert_allclose(
        out, gaussian_filter(image, sigma, mode='nearest'), atol=1e-6)
    assert out.std() < image.std()
    off = RandomGaussianBlur(prob=0.)
    np.testing.assert_array_equal(off(dict(img=image))['img'], image)


def test_packer_without_photometry_gives_identical_views():
    np.random.seed(0)
    label, image = label_and_image()
    packer = PackMultiViewInputs(strong_pipeline=[])
    out = packer(RandomRotFlipOrRotate()(results_of(label, image)))
    views = out['inputs']
    assert list(views) == ['weak', 'strong1', 'strong2']
    for view in views.values():
        assert view.shape == (1, ) + out['data_samples'].img_shape
        assert view.dtype == torch.float32
        assert torch.equal(view, views['weak'])
    # The packed label went through the same geometry as every view.
    assert torch.equal(out['data_samples'].gt_sem_seg.data.float(),
                       views['weak'])
    assert out['data_samples'].metainfo['case_id'] == 'c'


def test_packer_with_photometry_keeps_geometry():
    np.random.seed(0)
    label, image = label_and_image()
    strong = [
        dict(type='GrayscaleColorJitter', prob=1.),
        dict(type='RandomGaussianBlur', prob=1., sigma=(0.5, 1.))
    ]
    weak = RandomRotFlipOrRotate(rotflip_prob=1.)
    packer = TRANSFORMS.build(
        dict(type='PackMultiViewInputs', strong_pipeline=strong))
    for _ in range(5):
        results = weak(results_of(label, image / 3.))
        out = packer(results)
        gt = out['data_samples'].gt_sem_seg.data[0].numpy()
        weak_view = out['inputs']['weak'][0].numpy()
        np.testing.assert_allclose(weak_view * 3., gt)
        s1 = out['inputs']['strong1'][0].numpy()
        s2 = out['inputs']['strong2'][0].numpy()
        assert not np.allclose(s1, weak_view)
        assert not np.allclose(s1, s2)
        for strong_view in (s1, s2):
            # Same geometry: class means are ordered like the classes, and
            # the view correlates with the weak view far better than with
            # the weak view of another geometry.
            means = [strong_view[gt == c].mean() for c in range(4)]
            assert means == sorted(means)
            corr = np.corrcoef(strong_view.ravel(), weak_view.ravel())[0, 1]
            moved = np.flip(weak_view, axis=0)
            corr_moved = np.corrcoef(strong_view.ravel(), moved.ravel())[0, 1]
            assert corr > 0.8 and corr > corr_moved + 0.3


def test_packer_view_names_are_configurable():
    label, image = label_and_image()
    packer = PackMultiViewInputs(
        strong_pipeline=[GrayscaleColorJitter(prob=1.)],
        strong_views=('s', ),
        weak_view='w')
    out = packer(dict(img=image / 3., img_shape=image.shape))
    assert list(out['inputs']) == ['w', 's']
    assert 'gt_sem_seg' not in out['data_samples']
    with pytest.raises(ValueError, match='expected distinct names'):
        PackMultiViewInputs(strong_views=('weak', ))
    moving = PackMultiViewInputs(
        strong_pipeline=[dict(type='Resize', scale=(8, 8), keep_ratio=False)])
    with pytest.raises(
            ValueError, match='expected photometric transforms '
            'only'):
        moving(dict(img=image))
