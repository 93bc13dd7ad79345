"""Attention sources: what each map says, at which backbone level."""
import pytest
import torch
import torch.nn as nn

from mmseg.registry import MODELS
from projects.aigcmatch.models.attention import channel_selectivity


@pytest.fixture(autouse=True)
def seed():
    torch.manual_seed(0)


def feats_and_logits(batch=2, size=16):
    feats = [
        torch.randn(batch, 4, size, size),
        torch.randn(batch, 8, size // 2, size // 2),
        torch.randn(batch, 16, size // 4, size // 4),
    ]
    logits = torch.randn(batch, 3, size, size)
    return feats, logits


def test_prediction_attention_is_foreground_probability():
    feats, logits = feats_and_logits()
    source = MODELS.build(dict(type='PredictionAttention'))
    maps = source(feats, logits, None, in_index=[0, 1, 2])
    prob = logits.softmax(1)
    torch.testing.assert_close(maps['spatial'], 1 - prob[:, :1])
    assert [c.shape for c in maps['channel']] == [(2, 4), (2, 8), (2, 16)]
    confident = MODELS.build(
        dict(type='PredictionAttention', mode='confident_foreground'))(
            feats, logits, None, in_index=[0, 1, 2])
    torch.testing.assert_close(confident['spatial'],
                               (1 - prob[:, :1]) * prob.amax(1, True))
    with pytest.raises(ValueError, match='`mode` must be one of'):
        MODELS.build(dict(type='PredictionAttention', mode='x'))


def test_channel_selectivity_finds_the_channels_on_the_object():
    feats = [torch.full((1, 3, 8, 8), 0.1)]
    spatial = torch.zeros(1, 1, 8, 8)
    spatial[..., 2:5, 2:5] = 1.0
    feats[0][0, 1, 2:5, 2:5] = 5.0  # channel 1 fires on the object
    feats[0][0, 2, 6:, 6:] = 5.0  # channel 2 fires elsewhere
    weights = channel_selectivity(feats, spatial, [0])[0][0]
    assert weights.argmax() == 1 and weights.argmin() == 2
    assert weights[0] == pytest.approx(1.0)  # uniform channel: ratio 1
    assert channel_selectivity(feats, spatial, []) == [None]


def test_head_attention_follows_in_index_order():
    feats, logits = feats_and_logits()
    # A head that decodes the outputs deepest first, as mmseg's UNet does.
    in_index = [2, 1, 0]
    head_att = [
        dict(channel=torch.rand(2, feats[i].shape[1]),
             spatial=torch.rand(2, 1, *feats[i].shape[2:])) for i in in_index
    ]
    maps = MODELS.build(dict(type='HeadAttention'))(feats, logits, head_att,
                                                     in_index)
    for level, index in zip(head_att, in_index):
        assert maps['channel'][index] is not None
        torch.testing.assert_close(maps['channel'][index], level['channel'])
    assert maps['spatial'].shape == (2, 1, 16, 16)
    one = MODELS.build(dict(type='HeadAttention', levels=2))(
        feats, logits, head_att, in_index)
    torch.testing.assert_close(one['spatial'], head_att[2]['spatial'])
    with pytest.raises(ValueError, match="needs the decode head's attention"):
        MODELS.build(dict(type='HeadAttention'))(feats, logits, None,
                                                 in_index)


def test_grad_cam_points_at_what_raises_the_foreground():
    # Foreground logit = 3 * channel 0 of the input feature: Grad-CAM must
    # weight channel 0 and light up where it is high.
    feat = torch.zeros(1, 2, 8, 8)
    feat[0, 0, 1:4, 1:4] = 1.0
    feat[0, 1] = torch.rand(8, 8)
    feat.requires_grad_(True)
    conv = nn.Conv2d(2, 2, 1, bias=False)
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[1, 0] = 3.0  # class 1 (foreground) <- channel 0
    logits = conv(feat)
    source = MODELS.build(dict(type='GradCAMAttention', level=0))
    maps = source([feat], logits, None, in_index=[0])
    weights = maps['channel'][0][0]
    assert weights[0] > 0 and weights[1] == 0
    spatial = maps['spatial'][0, 0]
    assert spatial[1:4, 1:4].min() > 0.9 and spatial[5:, 5:].max() < 0.1
    assert not maps['spatial'].requires_grad
    # The graph is kept for the training loss.
    logits.sum().backward()
    with pytest.raises(RuntimeError, match='needs the clean pass with'):
        source([feat.detach()], logits.detach(), None, in_index=[0])
