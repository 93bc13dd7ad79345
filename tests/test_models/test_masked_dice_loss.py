import pytest
import torch
from mmengine.structures import PixelData

import projects.aigcmatch  # noqa: F401  (registers modules, mmcv stand-in)
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample


def build(**kwargs):
    return MODELS.build(dict(type='MaskedDiceLoss', **kwargs))


def reference(prob, onehot, mask, smooth):
    """Per-class Dice written out with explicit loops."""
    b, c, h, w = prob.shape
    losses = []
    for k in range(c):
        inter = pp = tt = 0.0
        for i in range(b):
            for y in range(h):
                for x in range(w):
                    if mask[i, y, x]:
                        p, t = prob[i, k, y, x], onehot[i, k, y, x]
                        inter, pp, tt = inter + p * t, pp + p * p, tt + t * t
        losses.append(1 - (2 * inter + smooth) / (pp + tt + smooth))
    return sum(losses) / c


def test_equals_hand_computation():
    # One pixel masked out; logits chosen so the softmax is easy to read.
    pred = torch.log(torch.tensor([[[[0.8, 0.3]], [[0.2, 0.7]]]]))
    target = torch.tensor([[[0, 1]]])
    mask = torch.tensor([[[1.0, 0.0]]])
    loss = build(smooth=0.0)(pred, target, weight=mask)
    # Only pixel 0 counts: class 0: 1 - 2*0.8/(0.64+1); class 1: 1 - 0/0.04.
    expected = ((1 - 1.6 / 1.64) + 1.0) / 2
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    pred = torch.randn(2, 3, 4, 5, dtype=torch.float64)
    target = torch.randint(0, 3, (2, 4, 5))
    mask = torch.rand(2, 4, 5) > 0.3
    onehot = torch.nn.functional.one_hot(target, 3).permute(0, 3, 1, 2)
    ref = reference(pred.softmax(1), onehot.double(), mask, 1e-5)
    assert build()(
        pred, target, weight=mask).item() == pytest.approx(
            float(ref), rel=1e-10)


def test_masked_pixels_have_exactly_no_influence():
    torch.manual_seed(0)
    pred = torch.randn(2, 4, 6, 6, requires_grad=True)
    target = torch.randint(0, 4, (2, 6, 6))
    mask = torch.rand(2, 6, 6) > 0.5
    loss_fn = build(loss_weight=0.5)
    loss = loss_fn(pred, target, weight=mask)
    loss.backward()
    assert (pred.grad.abs().sum(1)[~mask] == 0).all()
    assert (pred.grad.abs().sum(1)[mask] > 0).all()

    pred2 = pred.detach().clone()
    pred2.permute(0, 2, 3, 1)[~mask] = torch.randn(int((~mask).sum()), 4)
    assert not torch.equal(pred2, pred.detach())
    target2 = target.clone()
    target2[~mask] = 255  # even invalid labels are fine where masked
    assert torch.equal(loss_fn(pred2, target2, weight=mask), loss.detach())


def test_ignore_index_excludes_pixels_like_a_mask():
    torch.manual_seed(1)
    pred = torch.randn(2, 3, 5, 5)
    target = torch.randint(0, 3, (2, 5, 5))
    ignored = torch.rand(2, 5, 5) > 0.6
    loss_fn = build()
    with_ignore = target.masked_fill(ignored, 255)
    torch.testing.assert_close(
        loss_fn(pred, with_ignore, ignore_index=255),
        loss_fn(pred, target, weight=~ignored, ignore_index=None))
    torch.testing.assert_close(
        loss_fn(pred, target, weight=torch.ones(2, 1, 5, 5)),
        loss_fn(pred, target))


def test_perfect_and_wrong_predictions():
    target = torch.randint(0, 3, (2, 8, 8))
    onehot = torch.nn.functional.one_hot(target, 3).permute(0, 3, 1, 2)
    perfect = build()(onehot.float() * 100, target)
    wrong = build()(onehot.float() * -100, target)
    assert perfect.item() < 1e-6 and wrong.item() > 0.99


def test_sits_in_a_decode_head_loss_list():
    head = MODELS.build(
        dict(
            type='AttUNetHead',
            in_channels=[4, 8],
            num_classes=3,
            loss_decode=[dict(type='MaskedDiceLoss', loss_name='loss_md')]))
    feats = (torch.randn(1, 4, 8, 8), torch.randn(1, 8, 4, 4))
    sample = SegDataSample()
    label = torch.randint(0, 3, (1, 8, 8))
    label[0, :2] = 255
    sample.gt_sem_seg = PixelData(data=label)
    losses = head.loss(feats, [sample], train_cfg=None)
    assert torch.isfinite(losses['loss_md']) and losses['loss_md'] > 0
    assert build().loss_name == 'loss_dice'


def test_clear_errors():
    loss_fn = build()
    pred = torch.randn(1, 3, 4, 4)
    with pytest.raises(ValueError, match=r'target \(B, H, W\) labels'):
        loss_fn(pred, torch.zeros(1, 4, 5, dtype=torch.long))
    with pytest.raises(ValueError, match='integer class indices'):
        loss_fn(pred, torch.zeros(1, 4, 4))
    with pytest.raises(ValueError, match='weight .pixel mask. must have'):
        loss_fn(
            pred,
            torch.zeros(1, 4, 4, dtype=torch.long),
            weight=torch.ones(4, 4))
    bad = torch.zeros(1, 4, 4, dtype=torch.long)
    bad[0, 0, 0] = 7
    with pytest.raises(ValueError, match=r'labels \[7\] outside \[0, 3\)'):
        loss_fn(pred, bad)


def test_target_check_can_be_switched_off_for_pseudo_labels():
    from projects.aigcmatch.models.losses import MaskedDiceLoss
    pred = torch.randn(1, 3, 2, 2)
    bad = torch.tensor([[[0, 1], [2, 7]]])
    with pytest.raises(ValueError, match=r'labels \[7\] outside \[0, 3\)'):
        MaskedDiceLoss()(pred, bad)
    # unchecked (the unlabeled losses): no error, and the out-of-range
    # pixel simply matches no class
    value = MaskedDiceLoss(check_targets=False)(pred, bad)
    assert torch.isfinite(value)


def test_masked_cross_entropy_averages_over_kept_pixels():
    torch.manual_seed(0)
    pred = torch.randn(2, 4, 5, 5)
    target = torch.randint(0, 4, (2, 5, 5))
    mask = (torch.rand(2, 5, 5) > 0.5).float()
    loss = MODELS.build(dict(type='MaskedCrossEntropyLoss'))
    ce = torch.nn.functional.cross_entropy(pred, target, reduction='none')
    torch.testing.assert_close(
        loss(pred, target, weight=mask), (ce * mask).sum() / mask.sum())
    # pixels labelled ignore_index count for nothing, whatever the mask
    target_ign = target.clone()
    target_ign[0, 0, 0] = 255
    kept = mask.clone()
    kept[0, 0, 0] = 0
    torch.testing.assert_close(
        loss(pred, target_ign, weight=mask),
        (ce * kept).sum() / kept.sum())
    assert float(loss(pred, target, weight=torch.zeros(2, 5, 5))) == 0.0


def test_combined_loss_sums_its_losses():
    torch.manual_seed(0)
    pred = torch.randn(2, 4, 5, 5)
    target = torch.randint(0, 4, (2, 5, 5))
    mask = (torch.rand(2, 5, 5) > 0.3).float()
    parts = [dict(type='MaskedCrossEntropyLoss', loss_weight=0.5),
             dict(type='MaskedDiceLoss', loss_weight=0.5)]
    combined = MODELS.build(dict(type='CombinedLoss', losses=parts))
    expected = sum(MODELS.build(p)(pred, target, weight=mask) for p in parts)
    torch.testing.assert_close(combined(pred, target, weight=mask), expected)
    with pytest.raises(ValueError, match='at least one loss'):
        MODELS.build(dict(type='CombinedLoss', losses=[]))
