import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import projects.aigcmatch  # noqa: F401  (registers modules, mmcv stand-in)
from mmseg.registry import MODELS
from projects.aigcmatch.models.perturbations import (BaseCutMix, box_means,
                                                     spatial_attention_map)


@pytest.fixture(autouse=True)
def seed():
    torch.manual_seed(0)


def build(type_, **kwargs):
    return MODELS.build(dict(type=type_, **kwargs))


def box_of(mask):
    """(top, left, h, w) of the single box in a (H, W) mask, or None."""
    rows = mask.any(1).nonzero()[:, 0]
    cols = mask.any(0).nonzero()[:, 0]
    if len(rows) == 0:
        return None
    top, left = int(rows[0]), int(cols[0])
    h, w = len(rows), len(cols)
    assert mask[top:top + h, left:left + w].all()
    assert int(mask.sum()) == h * w  # one rectangle
    return top, left, h, w


def hot_spot(batch, size, top, left, extent, value=1.0):
    att = torch.full((batch, 1, size, size), 0.1)
    att[:, :, top:top + extent, left:left + extent] = value
    return att


def test_box_means_matches_avg_pool():
    att = torch.rand(3, 9, 11, dtype=torch.float64)
    h = torch.tensor([2, 4, 9])
    w = torch.tensor([3, 11, 1])
    means = box_means(att, h, w)
    for b in range(3):
        hb, wb = int(h[b]), int(w[b])
        ref = F.avg_pool2d(att[b:b + 1, None], (hb, wb), stride=1)[0, 0]
        torch.testing.assert_close(means[b, :9 - hb + 1, :11 - wb + 1], ref)


def test_box_covers_partner_hot_spot_with_argmax():
    cutmix = build(
        'AttCutMix',
        prob=1.0,
        area_range=(0.05, 0.05),
        aspect_range=(1.0, 1.0))
    partner = hot_spot(4, 32, top=20, left=3, extent=4)
    mask = cutmix.generate_mask(None, partner, (4, 1, 32, 32))
    assert mask.shape == (4, 32, 32) and mask.dtype == torch.bool
    for b in range(4):
        top, left, h, w = box_of(mask[b])
        assert (h, w) == (7, 7)  # int(sqrt(0.05 * 1024)) = 7
        assert mask[b, 20:24, 3:7].all()


def test_multi_level_head_attention_is_averaged_and_selectable():
    # Level 0 (16x16) points top-left, level 1 (8x8) bottom-right.
    level0 = hot_spot(2, 16, 0, 0, 4)
    level1 = hot_spot(2, 8, 4, 4, 4)
    attention = [
        dict(channel=torch.rand(2, 4), spatial=level0),
        dict(channel=torch.rand(2, 8), spatial=level1)
    ]
    kwargs = dict(
        prob=1.0, area_range=(0.0625, 0.0625), aspect_range=(1.0, 1.0))
    at0 = build(
        'AttCutMix', attention_level=0,
        **kwargs).generate_mask(None, attention, (16, 16))
    at1 = build(
        'AttCutMix', attention_level=[1],
        **kwargs).generate_mask(None, attention, (16, 16))
    assert at0[:, 0:4, 0:4].all() and not at0[:, 8:, 8:].any()
    # Upsampled, level 1's spot is at full value on rows/cols 9..15 (ties,
    # broken at random): the box lies in there.
    assert at1[:, 9:16, 9:16].sum() == 2 * 16
    assert not at1[:, :8].any() and not at1[:, :, :8].any()
    mean_map = spatial_attention_map(attention, (16, 16))
    assert mean_map.shape == (2, 16, 16)
    torch.testing.assert_close(mean_map,
                               (spatial_attention_map(attention, (16, 16), 0) +
                                spatial_attention_map(attention,
                                                      (16, 16), 1)) / 2)


def test_lambda_target_avoids_target_anatomy():
    # The partner has two equally hot spots; the target's anatomy lies under
    # the first one, so only lambda_target > 0 steers the box away from it.
    partner = torch.full((8, 1, 32, 32), 0.1)
    partner[:, :, 2:6, 2:6] = 1.0
    partner[:, :, 24:28, 24:28] = 1.0
    partner[:, :, 2:6, 2:4] = 1.001  # argmax prefers the covered spot
    target = hot_spot(8, 32, top=0, left=0, extent=10)
    kwargs = dict(prob=1.0, area_range=(0.04, 0.04), aspect_range=(1., 1.))
    plain = build('AttCutMix', **kwargs).generate_mask(target, partner,
                                                       (8, 32, 32))
    avoid = build(
        'AttCutMix', lambda_target=1.0,
        **kwargs).generate_mask(target, partner, (8, 32, 32))
    assert plain[:, 2:6, 2:6].all()
    assert avoid[:, 24:28, 24:28].all()
    assert not avoid[:, :10, :10].any()


def test_temperature_sampling():
    partner = hot_spot(64, 32, top=12, left=12, extent=6)
    kwargs = dict(prob=1.0, area_range=(0.05, 0.05), aspect_range=(1., 1.))
    sharp = build(
        'AttCutMix', tau=1e-3, **kwargs).generate_mask(None, partner,
                                                       (64, 32, 32))
    assert sharp[:, 12:18, 12:18].float().mean() > 0.95
    flat = build(
        'AttCutMix', tau=100.0,
        **kwargs).generate_mask(None, partner, (64, 32, 32))
    tops = torch.tensor([box_of(m)[0] for m in flat], dtype=torch.float)
    assert tops.std() > 4  # spread over [0, 25], not stuck at the spot


def test_flat_attention_ties_are_broken_at_random():
    cutmix = build(
        'AttCutMix', prob=1.0, area_range=(0.05, 0.05), aspect_range=(1., 1.))
    mask = cutmix.generate_mask(None, torch.full((32, 1, 16, 16), 0.5),
                                (32, 16, 16))
    corners = {box_of(m)[:2] for m in mask}
    assert len(corners) > 5


@pytest.mark.parametrize('type_', ['AttCutMix', 'RandomCutMix'])
def test_same_box_for_image_label_and_confidence(type_):
    cutmix = build(type_, prob=1.0)
    partner_att = [
        dict(channel=torch.rand(3, 4), spatial=torch.rand(3, 1, 8, 8))
    ]
    mask = cutmix.generate_mask(partner_att, partner_att, (3, 1, 16, 16))
    img_t, img_p = torch.zeros(3, 1, 16, 16), torch.ones(3, 1, 16, 16)
    lbl_t = torch.zeros(3, 16, 16, dtype=torch.long)
    lbl_p = torch.full((3, 16, 16), 2, dtype=torch.long)
    conf_t, conf_p = torch.full((3, 16, 16), 0.3), torch.full((3, 16, 16), .9)
    img = cutmix.mix(mask, img_t, img_p)
    lbl = cutmix.mix(mask, lbl_t, lbl_p)
    conf = cutmix.mix(mask, conf_t, conf_p)
    assert img.shape == img_t.shape and lbl.dtype == torch.long
    assert torch.equal(img[:, 0] == 1, mask)
    assert torch.equal(lbl == 2, mask)
    assert torch.equal(conf == 0.9, mask)
    assert mask.any()


@pytest.mark.parametrize('type_', ['AttCutMix', 'RandomCutMix'])
def test_prob_controls_how_many_samples_are_mixed(type_):
    att = torch.rand(2000, 1, 4, 4)
    for prob, low, high in ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0), (0.3, 0.26,
                                                               0.34)):
        mask = build(type_, prob=prob).generate_mask(att, att, (2000, 16, 16))
        rate = mask.flatten(1).any(1).float().mean().item()
        assert low <= rate <= high


@pytest.mark.parametrize('type_', ['AttCutMix', 'RandomCutMix'])
def test_box_area_and_aspect_within_ranges(type_):
    size, n = 64, 400
    att = torch.rand(n, 1, 8, 8)
    mask = build(type_, prob=1.0).generate_mask(att, att, (n, size, size))
    for m in mask:
        _, _, h, w = box_of(m)
        # Sides are floored from the drawn area and aspect.
        assert h * w <= 0.4 * size * size
        assert (h + 1) * (w + 1) >= 0.02 * size * size
        assert (h + 1) / w >= 0.3 and h / (w + 1) <= 1 / 0.3


def unimatch_procedure_areas(n, size, rng):
    """Box areas (fraction of the image) from UniMatch's procedure, written
    out literally: the area is drawn once per box, then the aspect ratio and
    a uniform corner are redrawn until the box fits."""
    areas = np.empty(n)
    for i in range(n):
        area = rng.uniform(0.02, 0.4) * size * size
        while True:
            ratio = rng.uniform(0.3, 1 / 0.3)
            w, h = int(math.sqrt(area / ratio)), int(math.sqrt(area * ratio))
            x, y = rng.integers(0, size), rng.integers(0, size)
            if x + w <= size and y + h <= size:
                break
        areas[i] = h * w / size**2
    return areas


@pytest.mark.parametrize('size', [256, 64])
def test_box_sizes_follow_unimatch_procedure(size):
    n = 20000
    ref = unimatch_procedure_areas(n, size, np.random.default_rng(0))
    if size == 256:  # the values the procedure is known for
        assert abs(ref.mean() - 0.207) < 0.005
        assert abs((ref > 0.3).mean() - 0.25) < 0.015
    torch.manual_seed(0)
    box_h, box_w = build('RandomCutMix').sample_box_sizes(
        n, size, size, torch.device('cpu'))
    ours = (box_h * box_w).double().numpy() / size**2
    assert abs(ours.mean() - ref.mean()) < 0.01
    assert abs((ours > 0.3).mean() - (ref > 0.3).mean()) < 0.01
    # The whole distribution, not only two numbers: two-sample KS distance.
    grid = np.linspace(0, 0.4, 81)
    cdf = lambda a: np.searchsorted(np.sort(a), grid, side='right') / n
    assert np.abs(cdf(ours) - cdf(ref)).max() < 0.02


def test_box_sizes_through_generate_mask():
    torch.manual_seed(0)
    size, n = 32, 4000
    mask = build(
        'RandomCutMix', prob=1.0).generate_mask(None, None, (n, size, size))
    ours = mask.flatten(1).float().mean(1).numpy()
    ref = unimatch_procedure_areas(n, size, np.random.default_rng(1))
    assert abs(ours.mean() - ref.mean()) < 0.01


def test_random_cutmix_positions_are_uniform():
    torch.manual_seed(0)
    n, size = 3000, 16
    cutmix = build(
        'RandomCutMix',
        prob=1.0,
        area_range=(0.25, 0.25),
        aspect_range=(1.0, 1.0))
    mask = cutmix.generate_mask(None, None, (n, size, size))
    corners = torch.tensor([box_of(m)[:2] for m in mask])
    assert corners.max() == size - 8 and corners.min() == 0
    # 9 x 9 possible corners, ~37 draws each.
    counts = torch.bincount(corners[:, 0] * 9 + corners[:, 1], minlength=81)
    assert counts.numel() == 81
    expected = n / 81
    chi2 = ((counts - expected)**2 / expected).sum().item()
    assert chi2 < 130  # chi2(80 dof): p(>130) < 1e-3


def test_works_with_real_head_attention():
    enc = MODELS.build(dict(type='UNetEncoder'))
    head = MODELS.build(dict(type='AttUNetHead', num_classes=4))
    with torch.no_grad():
        _, attention = head.forward_with_attention(
            enc(torch.randn(2, 1, 32, 32)))
    mask = build(
        'AttCutMix', prob=1.0, lambda_target=1.0,
        tau=0.1).generate_mask(attention, attention, (2, 1, 32, 32))
    assert mask.shape == (2, 32, 32) and mask.any(dim=(1, 2)).all()


def test_requires_attention_flags():
    assert build('AttCutMix').requires_attention is True
    assert build('RandomCutMix').requires_attention is False
    assert isinstance(build('RandomCutMix'), BaseCutMix)


def test_clear_errors():
    with pytest.raises(ValueError, match='prob'):
        build('AttCutMix', prob=1.5)
    with pytest.raises(ValueError, match='area_range'):
        build('RandomCutMix', area_range=(0.5, 0.1))
    with pytest.raises(ValueError, match='tau'):
        build('AttCutMix', tau=0)
    with pytest.raises(ValueError, match='attention_level'):
        build('AttCutMix', attention_level='max')
    cutmix = build('AttCutMix', lambda_target=1.0)
    att = torch.rand(2, 1, 4, 4)
    with pytest.raises(ValueError, match='partner_attention is None'):
        cutmix.generate_mask(att, None, (2, 8, 8))
    with pytest.raises(ValueError, match='target_attention is None'):
        cutmix.generate_mask(None, att, (2, 8, 8))
    with pytest.raises(ValueError, match='batch size 2, the images have 3'):
        cutmix.generate_mask(att, att, (3, 8, 8))
    with pytest.raises(ValueError, match='out of range'):
        build(
            'AttCutMix',
            attention_level=3).generate_mask(None, [dict(spatial=att)],
                                             (2, 8, 8))
    with pytest.raises(TypeError, match='spatial map Tensor'):
        build('AttCutMix').generate_mask(None, {'spatial': att}, (2, 8, 8))
    with pytest.raises(ValueError, match='gives no batch size'):
        build('RandomCutMix').generate_mask(None, None, (8, 8))
    mask = torch.zeros(2, 8, 8, dtype=torch.bool)
    with pytest.raises(ValueError, match='same shape'):
        BaseCutMix.mix(mask, torch.zeros(2, 8, 8), torch.zeros(2, 1, 8, 8))
    with pytest.raises(ValueError, match='bool'):
        BaseCutMix.mix(mask.float(), torch.zeros(2, 8, 8),
                       torch.zeros(2, 8, 8))


def test_target_least_paste_keeps_the_target_anatomy_whole():
    size = 16
    # The partner's anatomy top-left, the target's bottom-right.
    partner = hot_spot(4, size, 1, 1, 5)
    target = hot_spot(4, size, 10, 10, 5)
    cutmix = build('AttCutMix', prob=1.0, area_range=(0.1, 0.1),
                   aspect_range=(1.0, 1.0), paste='target_least')
    assert cutmix.translates
    mask, shift = cutmix.generate_boxes(target, partner, (4, size, size))
    images_t = torch.zeros(4, 1, size, size)
    images_p = torch.arange(4 * size * size, dtype=torch.float).view(
        4, 1, size, size)
    mixed = cutmix.mix(mask, images_t, images_p, shift)
    for i in range(4):
        top, left, h, w = box_of(mask[i])
        # landed away from the target's own hot spot ...
        assert not mask[i, 10:15, 10:15].any()
        # ... holding the partner's box cut at the hot spot (shifted back)
        src_top, src_left = top - int(shift[i, 0]), left - int(shift[i, 1])
        assert src_top <= 1 and src_left <= 1
        assert src_top + h >= 6 and src_left + w >= 6 or h < 5
        torch.testing.assert_close(
            mixed[i, 0, top:top + h, left:left + w],
            images_p[i, 0, src_top:src_top + h, src_left:src_left + w])
    with pytest.raises(RuntimeError, match='use generate_boxes'):
        cutmix.generate_mask(target, partner, (4, size, size))
    with pytest.raises(ValueError, match='set lambda_target=0'):
        build('AttCutMix', paste='target_least', lambda_target=1.0)
    with pytest.raises(ValueError, match='`paste` must be one of'):
        build('AttCutMix', paste='elsewhere')


def test_same_paste_has_no_shift():
    mask, shift = build('RandomCutMix', prob=1.0).generate_boxes(
        None, None, (3, 16, 16))
    assert not shift.any() and mask.flatten(1).any(1).all()


def test_shift_maps_is_a_roll_per_sample():
    from projects.aigcmatch.models.perturbations.base_cutmix import shift_maps
    g = torch.Generator().manual_seed(0)
    for shape in ((3, 5, 7), (3, 2, 5, 7)):
        maps = torch.rand(shape, generator=g)
        shift = torch.tensor([[0, 0], [2, -3], [-6, 9]])
        expected = torch.stack([
            torch.roll(m, (int(dy), int(dx)), dims=(-2, -1))
            for m, (dy, dx) in zip(maps, shift.tolist())
        ])
        torch.testing.assert_close(shift_maps(maps, shift), expected,
                                   rtol=0, atol=0)
    labels = torch.randint(0, 4, (2, 6, 6), generator=g)
    moved = shift_maps(labels, torch.tensor([[1, 1], [5, 0]]))
    assert moved.dtype == labels.dtype
    assert torch.equal(moved[0], torch.roll(labels[0], (1, 1), (0, 1)))
