"""Confidence thresholds: fixed, per class, and following each class's
confidence (``ClassAdaptiveThreshold``)."""
import pytest
import torch

import projects.aigcmatch  # noqa: F401  (compat first, then registration)
from projects.aigcmatch.models.segmentors.confidence_threshold import (
    ClassAdaptiveThreshold, FixedThreshold, build_threshold)


def batch(pairs):
    """conf and pseudo (1, N) from (class, confidence) pairs."""
    pseudo = torch.tensor([[c for c, _ in pairs]])
    conf = torch.tensor([[p for _, p in pairs]])
    return conf, pseudo


def test_fixed_and_per_class():
    conf, pseudo = batch([(0, 0.96), (1, 0.9), (2, 0.5)])
    assert FixedThreshold(0.95, 3)(conf, pseudo).tolist() == [[1, 0, 0]]
    per_class = FixedThreshold([0.95, 0.8, 0.4], 3)
    assert per_class(conf, pseudo).tolist() == [[1, 1, 1]]
    assert isinstance(build_threshold([0.9, 0.9, 0.9], 3), FixedThreshold)
    for bad in (1.5, -0.1, True, [0.9, 0.9], 'high'):
        with pytest.raises(ValueError, match='conf_thresh must be'):
            FixedThreshold(bad, 3)


def test_first_batch_sets_the_averages_then_they_move_slowly():
    thresh = ClassAdaptiveThreshold(num_classes=4, momentum=0.9, floor=0.3)
    conf, pseudo = batch([(0, 1.0), (0, 0.98), (1, 0.8), (2, 0.4)])
    thresh.update(conf, pseudo)
    assert thresh.class_conf.tolist() == pytest.approx([0.99, 0.8, 0.4, 0])
    assert thresh.seen.tolist() == [True, True, True, False]
    assert thresh.thresholds().tolist() == pytest.approx(
        [0.95, 0.95 * 0.8 / 0.99, 0.95 * 0.4 / 0.99, 0.95])
    # class 1 is learnt: its average rises by (1 - momentum) of the gap,
    # class 2 is absent from the batch and keeps its average
    thresh.update(*batch([(0, 0.99), (1, 1.0)]))
    assert thresh.class_conf.tolist() == pytest.approx(
        [0.99, 0.9 * 0.8 + 0.1 * 1.0, 0.4, 0])
    assert thresh.thresholds()[1] > 0.95 * 0.8 / 0.99


def test_floor_and_the_mask():
    thresh = ClassAdaptiveThreshold(num_classes=3, floor=0.5)
    conf, pseudo = batch([(0, 0.99), (1, 0.6), (2, 0.3)])
    mask = thresh(conf, pseudo, update=True)
    # class 1: 0.95 * 0.6 / 0.99 = 0.576, passed by its 0.6; class 2 gets
    # the floor 0.5, which its 0.3 misses
    assert mask.tolist() == [[1.0, 1.0, 0.0]]
    assert thresh.logs()['thresh_c2'] == pytest.approx(0.5)


def test_no_update_unless_asked_and_training():
    thresh = ClassAdaptiveThreshold(num_classes=2)
    conf, pseudo = batch([(0, 0.99), (1, 0.6)])
    thresh(conf, pseudo)  # the mixed views: thresholds only
    assert not thresh.seen.any()
    thresh.eval()
    thresh(conf, pseudo, update=True)
    assert not thresh.seen.any()
    # nothing seen: every class has the base threshold
    assert thresh.thresholds().tolist() == pytest.approx([0.95, 0.95])


def test_state_is_checkpointed():
    thresh = ClassAdaptiveThreshold(num_classes=3)
    thresh.update(*batch([(0, 0.99), (1, 0.7)]))
    restored = ClassAdaptiveThreshold(num_classes=3)
    restored.load_state_dict(thresh.state_dict())
    assert torch.equal(restored.thresholds(), thresh.thresholds())
    assert set(thresh.state_dict()) == {'class_conf', 'seen'}


def test_built_from_a_dict_with_the_segmentor_classes():
    thresh = build_threshold(dict(type='ClassAdaptiveThreshold', base=0.9), 5)
    assert isinstance(thresh, ClassAdaptiveThreshold)
    assert thresh.num_classes == 5 and thresh.base == 0.9


@pytest.mark.parametrize('kwargs, match', [
    (dict(base=1.2), '`base` must be in'),
    (dict(momentum=-0.1), '`momentum` must be in'),
    (dict(floor=0.96), r'`floor` \(0.96\) is above `base` \(0.95\)'),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ClassAdaptiveThreshold(num_classes=4, **kwargs)
