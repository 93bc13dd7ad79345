import pytest
import torch

import projects.aigcmatch  # noqa: F401  (registers modules, mmcv stand-in)
from mmseg.registry import MODELS
from projects.aigcmatch.models.perturbations import drop_channels


@pytest.fixture(autouse=True)
def seed():
    torch.manual_seed(0)


def ones_feats(batch=64, channels=(8, 16)):
    return tuple(torch.ones(batch, c, 2, 2) for c in channels)


def test_strong_channels_dropped_at_p_strong_weak_at_p_weak():
    perb = MODELS.build(
        dict(type='AttFeaPerb', ratio=0.25, p_strong=0.8, p_weak=0.2)).train()
    batch, channels = 64, 16
    # Each sample attends to different channels: a random permutation.
    weights = torch.stack(
        [torch.randperm(channels).float() / channels for _ in range(batch)])
    strong = weights >= 0.75  # the top 4 of 16 in each sample
    dropped = torch.zeros(batch, channels)
    draws = 40
    for _ in range(draws):
        (out, ) = perb((torch.ones(batch, channels, 2, 2), ),
                       [dict(channel=weights, spatial=None)])
        is_zero = (out == 0).all(dim=(2, 3))
        kept = out[~is_zero]
        # Whole channels dropped; survivors scaled by 1 / (1 - p).
        assert ((out == 0) == is_zero[:, :, None, None]).all()
        scale = torch.where(strong, 1 / 0.2, 1 / 0.8)[~is_zero]
        torch.testing.assert_close(kept, scale[:, None, None].expand_as(kept))
        dropped += is_zero.float()
    rate_strong = dropped[strong].sum() / (strong.sum() * draws)
    rate_weak = dropped[~strong].sum() / ((~strong).sum() * draws)
    assert abs(rate_strong - 0.8) < 0.02
    assert abs(rate_weak - 0.2) < 0.02


def test_identity_in_eval_mode_and_unselected_levels():
    feats = ones_feats()
    attention = [torch.rand(64, 8), torch.rand(64, 16)]
    perb = MODELS.build(dict(type='AttFeaPerb', p_strong=1., p_weak=1.))
    perb.eval()
    out = perb(feats, attention)
    assert all(o is f for o, f in zip(out, feats))
    perb.train()
    out = perb(feats, attention)
    assert all((o == 0).all() for o in out)
    only_last = MODELS.build(
        dict(type='AttFeaPerb', p_strong=1., p_weak=1., levels=[-1]))
    out = only_last(feats, attention)
    assert out[0] is feats[0] and (out[1] == 0).all()


def test_drop_probabilities_rank_per_sample():
    perb = MODELS.build(dict(type='AttFeaPerb', p_strong=0.7, p_weak=0.3))
    att = torch.tensor([[0.9, 0.1, 0.5, 0.2], [0.1, 0.9, 0.2, 0.5]])
    probs = perb.drop_probabilities(att)
    torch.testing.assert_close(
        probs, torch.tensor([[0.7, 0.3, 0.7, 0.3], [0.3, 0.7, 0.3, 0.7]]))
    # the default protects the top channels (docs/design_decisions.md)
    default = MODELS.build(dict(type='AttFeaPerb')).drop_probabilities(att)
    torch.testing.assert_close(
        default, torch.tensor([[0.3, 0.7, 0.3, 0.7], [0.7, 0.3, 0.7, 0.3]]))


def test_gradients_flow_to_kept_channels_only():
    feat = torch.ones(2, 3, 2, 2, requires_grad=True)
    probs = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    drop_channels(feat, probs).sum().backward()
    expected = (1 - probs)[:, :, None, None].expand(2, 3, 2, 2)
    assert torch.equal(feat.grad, expected)  # no NaN where p == 1


def test_random_fea_perb_is_dropout2d_half():
    perb = MODELS.build(dict(type='RandomFeaPerb')).train()
    assert perb.requires_attention is False
    feats = ones_feats(batch=128, channels=(16, 32))
    out = perb(feats)
    for o in out:
        is_zero = (o == 0).all(dim=(2, 3))
        assert ((o == 0) == is_zero[:, :, None, None]).all()
        assert torch.equal(o[~is_zero], torch.full_like(o[~is_zero], 2.0))
        assert abs(is_zero.float().mean() - 0.5) < 0.03
    perb.eval()
    assert all(o is f for o, f in zip(perb(feats), feats))


def test_flags_and_clear_errors():
    assert MODELS.build(dict(type='AttFeaPerb')).requires_attention is True
    with pytest.raises(ValueError, match='p_strong'):
        MODELS.build(dict(type='AttFeaPerb', p_strong=1.5))
    with pytest.raises(ValueError, match='`p` must be in'):
        MODELS.build(dict(type='RandomFeaPerb', p=-0.1))
    perb = MODELS.build(dict(type='AttFeaPerb')).train()
    feats = ones_feats(batch=2)
    with pytest.raises(ValueError, match='got 2 levels and 1 attention'):
        perb(feats, [torch.rand(2, 8)])
    with pytest.raises(ValueError, match='level 1 has shape'):
        perb(feats, [torch.rand(2, 8), torch.rand(2, 8)])


def test_attention_maps_dict_and_levels_the_head_does_not_decode():
    torch.manual_seed(0)
    feats = (torch.ones(64, 4, 4, 4), torch.ones(64, 8, 2, 2))
    maps = dict(spatial=torch.rand(64, 1, 8, 8),
                channel=[None, torch.rand(64, 8)])
    perb = MODELS.build(dict(type='AttFeaPerb')).train()
    out = perb(feats, maps)
    assert out[0] is feats[0]  # not decoded: left alone
    assert not torch.equal(out[1], feats[1])


def test_spatial_mode_drops_positions_by_attention():
    torch.manual_seed(0)
    n = 400
    feats = (torch.ones(n, 3, 4, 4), )
    spatial = torch.zeros(n, 1, 4, 4)
    spatial[:, :, :2] = 1.0  # top half attended: the strong positions
    perb = MODELS.build(
        dict(type='AttFeaPerb', mode='spatial', p_strong=0.2,
             p_weak=0.8)).train()
    out = perb(feats, dict(spatial=spatial, channel=[torch.rand(n, 3)]))[0]
    dropped = out == 0
    # a dropped position loses all its channels
    assert torch.equal(dropped.all(1), dropped.any(1))
    top = dropped[:, 0, :2].float().mean().item()
    bottom = dropped[:, 0, 2:].float().mean().item()
    assert top == pytest.approx(0.2, abs=0.03)
    assert bottom == pytest.approx(0.8, abs=0.03)
    kept = out[~dropped]  # scaled by 1 / (1 - p)
    assert torch.allclose(kept[kept < 2], torch.tensor(1 / 0.8))
    assert torch.allclose(kept[kept > 2], torch.tensor(1 / 0.2))
    with pytest.raises(ValueError, match="spatial map"):
        perb(feats, [torch.rand(n, 3)])
    with pytest.raises(ValueError, match='`mode` must be'):
        MODELS.build(dict(type='AttFeaPerb', mode='pixel'))
