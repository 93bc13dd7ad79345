"""The fast surface distances equal medpy's, value for value."""
import numpy as np
import pytest
from medpy.metric import binary
from scipy import ndimage

from projects.aigcmatch.evaluation import (asd, hd95, hd95_asd,
                                           surface_distances)
from .helpers import cube

# medpy's own (module-private) per-voxel distances, for element-wise checks.
medpy_surface_distances = getattr(binary, '__surface_distances')


def assert_equals_medpy(result, reference, spacing=None):
    ours_hd95, ours_asd = hd95_asd(result, reference, spacing)
    assert ours_hd95 == pytest.approx(
        binary.hd95(result, reference, spacing), abs=1e-6)
    assert ours_asd == pytest.approx(
        binary.asd(result, reference, spacing), abs=1e-6)
    to_ref, to_res = surface_distances(result, reference, spacing)
    np.testing.assert_allclose(
        to_ref, medpy_surface_distances(result, reference, spacing),
        atol=1e-6, rtol=0)
    np.testing.assert_allclose(
        to_res, medpy_surface_distances(reference, result, spacing),
        atol=1e-6, rtol=0)


def test_shifted_cubes_in_voxels_and_mm():
    # 2x2x2 cubes are all surface; shifted by 3 along x, each voxel is 2 or 3
    # voxels from the other cube: 8 distances of 2 and 8 of 3 pooled.
    a = cube((6, 6, 8), (1, 1, 0), (2, 2, 2))
    b = cube((6, 6, 8), (1, 1, 3), (2, 2, 2))
    assert hd95_asd(a, b) == pytest.approx((3.0, 2.5))
    # (sz, sy, sx) = (5, 1.5, 0.7) mm: x distances scale by 0.7
    assert hd95_asd(a, b, (5.0, 1.5, 0.7)) == pytest.approx((2.1, 1.75))
    # the same shift along z (thick slices): 2 or 3 slices of 5 mm
    c = cube((8, 6, 6), (0, 1, 1), (2, 2, 2))
    d = cube((8, 6, 6), (3, 1, 1), (2, 2, 2))
    assert hd95_asd(c, d, (5.0, 1.5, 0.7)) == pytest.approx((15.0, 12.5))
    assert hd95(c, d, (5.0, 1.5, 0.7)) == pytest.approx(15.0)
    assert asd(c, d, (5.0, 1.5, 0.7)) == pytest.approx(12.5)
    assert_equals_medpy(a, b, (5.0, 1.5, 0.7))
    assert_equals_medpy(c, d, (5.0, 1.5, 0.7))


def test_single_voxels_hand_computed():
    a = np.zeros((7, 9), bool)
    b = np.zeros((7, 9), bool)
    a[0, 0] = b[3, 4] = True
    assert hd95_asd(a, b) == pytest.approx((5.0, 5.0))
    assert hd95_asd(a, b, (2.0, 1.0)) == pytest.approx(
        (np.sqrt(52.0), np.sqrt(52.0)))
    assert_equals_medpy(a, b, (2.0, 1.0))


def test_asd_is_directed_like_medpy():
    # a small object inside a big one: far apart one way, close the other
    big = cube((12, 12, 12), (0, 0, 0), (12, 12, 12))
    small = cube((12, 12, 12), (5, 5, 5), (1, 1, 1))
    assert asd(small, big) == pytest.approx(5.0)
    assert asd(big, small) > asd(small, big)
    assert_equals_medpy(small, big)
    assert_equals_medpy(big, small, (3.0, 1.0, 0.5))


@pytest.mark.parametrize('spacing', [None, (4.5, 1.2, 0.8), 0.7])
def test_random_volumes_equal_medpy(spacing):
    rng = np.random.default_rng(0)
    for _ in range(25):
        shape = tuple(rng.integers(1, 11, size=3))
        a = rng.random(shape) < rng.uniform(0.05, 0.9)
        b = rng.random(shape) < rng.uniform(0.05, 0.9)
        if a.any() and b.any():
            assert_equals_medpy(a, b, spacing)


@pytest.mark.parametrize('ndim', [1, 2, 4])
def test_other_dimensions_equal_medpy(ndim):
    rng = np.random.default_rng(ndim)
    for _ in range(10):
        shape = tuple(rng.integers(2, 8, size=ndim))
        a, b = rng.random(shape) < 0.3, rng.random(shape) < 0.3
        if a.any() and b.any():
            assert_equals_medpy(a, b, tuple(rng.uniform(0.5, 3, ndim)))


def test_structured_volumes_equal_medpy():
    rng = np.random.default_rng(1)
    shape = (9, 40, 36)
    spacing = (10.0, 1.4, 1.4)
    zz, yy, xx = np.indices(shape)
    ball = (zz - 4)**2 / 9 + (yy - 20)**2 / 100 + (xx - 18)**2 / 64 < 1
    # smooth boundary noise, like a prediction of the ball
    noise = ndimage.gaussian_filter(rng.standard_normal(shape), (0, 3, 3))
    pred = ((zz - 4)**2 / 9 + (yy - 20)**2 / 100 +
            (xx - 18)**2 / 64 + 8 * noise) < 1
    assert_equals_medpy(pred, ball)
    assert_equals_medpy(pred, ball, spacing)
    # a ring (object with a hole) against a disc stack
    ring = ball & ~((yy - 20)**2 + (xx - 18)**2 < 9)
    assert_equals_medpy(ring, ball, spacing)
    # a far, one-voxel false positive widens the crop to most of the volume
    far = pred.copy()
    far[8, 0, 35] = True
    assert_equals_medpy(far, ball, spacing)


def test_objects_touching_the_border_equal_medpy():
    # erosion treats outside the array as background: edge voxels are surface
    shape = (5, 10, 10)
    full = np.ones(shape, bool)
    edge = cube(shape, (0, 0, 0), (5, 4, 10))
    corner = cube(shape, (3, 7, 7), (2, 3, 3))
    for a, b in [(full, edge), (edge, corner), (full, corner),
                 (full, full), (corner, corner)]:
        assert_equals_medpy(a, b)
        assert_equals_medpy(a, b, (3.0, 1.0, 2.0))
    assert hd95_asd(full, full) == (0.0, 0.0)


def test_one_voxel_objects_equal_medpy():
    shape = (4, 6, 6)
    one = cube(shape, (2, 3, 3), (1, 1, 1))
    other = cube(shape, (0, 0, 5), (1, 1, 1))
    thin = cube(shape, (0, 2, 0), (4, 1, 6))
    for a, b in [(one, other), (one, thin), (thin, one), (one, one)]:
        assert_equals_medpy(a, b)
        assert_equals_medpy(a, b, (2.5, 0.9, 0.9))


def test_crop_is_exact_when_the_nearest_surface_is_far_in_the_box():
    # The crop holds both surfaces but not the reference's whole
    # neighbourhood; a voxel's nearest reference surface voxel must still
    # be found (all zeros of the EDT input lie in the crop).
    shape = (3, 30, 30)
    a = cube(shape, (0, 0, 0), (1, 1, 1))
    b = cube(shape, (2, 29, 29), (1, 1, 1))
    b[1, 15, 28] = True
    assert_equals_medpy(a, b)
    assert_equals_medpy(b, a, (5.0, 1.0, 1.0))


def test_bad_input_raises_clear_errors():
    a = np.ones((3, 4, 4), bool)
    with pytest.raises(ValueError, match='same shape'):
        hd95_asd(a, np.ones((3, 4, 5), bool))
    with pytest.raises(ValueError, match='result mask is empty'):
        hd95_asd(np.zeros_like(a), a)
    with pytest.raises(ValueError, match='reference mask is empty'):
        hd95_asd(a, np.zeros_like(a))
    with pytest.raises(ValueError, match='spacing must be .* 3 positive'):
        hd95_asd(a, a, (1.0, 2.0))
    with pytest.raises(ValueError, match='spacing must be'):
        hd95_asd(a, a, (1.0, 0.0, 1.0))
