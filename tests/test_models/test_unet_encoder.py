import pytest
import torch

import projects.aigcmatch  # noqa: F401  (registers modules, mmcv stand-in)
from mmseg.registry import MODELS


def num_params(module):
    return sum(p.numel() for p in module.parameters())


def test_five_levels_full_res_to_one_sixteenth():
    enc = MODELS.build(dict(type='UNetEncoder')).eval()
    feats = enc(torch.randn(2, 1, 64, 64))
    assert isinstance(feats, tuple)
    assert [tuple(f.shape) for f in feats] == [(2, 16, 64, 64),
                                               (2, 32, 32, 32),
                                               (2, 64, 16, 16), (2, 128, 8, 8),
                                               (2, 256, 4, 4)]


def test_blocks_follow_unimatch_layout():
    enc = MODELS.build(dict(type='UNetEncoder'))
    assert [lvl[1].p for lvl in enc.levels] == [0.05, 0.1, 0.2, 0.3, 0.5]
    first = enc.levels[0][0]
    assert first.conv.kernel_size == (3, 3) and first.conv.in_channels == 1
    assert type(first.norm).__name__ == 'BatchNorm2d'
    assert type(first.activate).__name__ == 'LeakyReLU'
    assert first.activate.negative_slope == 0.01


def test_dropout_only_in_train_mode():
    enc = MODELS.build(dict(type='UNetEncoder'))
    x = torch.randn(2, 1, 32, 32)
    enc.eval()
    assert torch.equal(enc(x)[-1], enc(x)[-1])
    enc.train()
    assert not torch.equal(enc(x)[-1], enc(x)[-1])


def test_parameter_count_with_head():
    enc = MODELS.build(dict(type='UNetEncoder'))
    assert num_params(enc) == 1_179_472
    counts = {}
    for attention in (True, False):
        for upsample in ('deconv', 'bilinear'):
            head = MODELS.build(
                dict(
                    type='AttUNetHead',
                    num_classes=4,
                    attention=attention,
                    upsample=upsample))
            counts[attention, upsample] = num_params(enc) + num_params(head)
    # The plain UNet with 1x1-conv + bilinear upsampling has the published
    # 1.81 M; 2x2 transposed convs add 130 k, the attention ~23 k.
    assert counts[False, 'bilinear'] == 1_812_292
    assert counts[False, 'deconv'] == 1_942_852
    assert counts[True, 'deconv'] == 1_965_795
    assert 0 < counts[True, 'deconv'] - counts[False, 'deconv'] < 0.02 * 1.8e6


def test_custom_widths_and_odd_sizes():
    enc = MODELS.build(
        dict(
            type='UNetEncoder',
            in_channels=2,
            channels=(4, 8, 8),
            dropout=(0., 0., 0.))).eval()
    feats = enc(torch.randn(1, 2, 30, 22))
    assert [tuple(f.shape) for f in feats] == [(1, 4, 30, 22), (1, 8, 15, 11),
                                               (1, 8, 7, 5)]


def test_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match='one probability per level'):
        MODELS.build(dict(type='UNetEncoder', dropout=(0.1, 0.2)))
    with pytest.raises(ValueError, match=r'dropout.*\[0, 1\)'):
        MODELS.build(
            dict(type='UNetEncoder', channels=(4, 8), dropout=(0.1, 1.0)))
    enc = MODELS.build(dict(type='UNetEncoder'))
    with pytest.raises(ValueError, match=r'expects inputs \(B, 1, H, W\)'):
        enc(torch.randn(1, 3, 16, 16))
