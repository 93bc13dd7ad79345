import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.structures import PixelData

import projects.aigcmatch  # noqa: F401  (registers modules, mmcv stand-in)
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

RESNET18 = dict(
    type='ResNetV1c',
    depth=18,
    in_channels=1,
    norm_cfg=dict(type='BN'),
    contract_dilation=True)


def unet_pair(attention=True):
    enc = MODELS.build(dict(type='UNetEncoder'))
    head = MODELS.build(
        dict(type='AttUNetHead', num_classes=4, attention=attention))
    return enc, head


def check_attention(attention, feats):
    assert isinstance(attention, list) and len(attention) == len(feats)
    for att, feat in zip(attention, feats):
        b, c, h, w = feat.shape
        assert att['channel'].shape == (b, c)
        assert att['spatial'].shape == (b, 1, h, w)
        for value in (att['channel'], att['spatial']):
            assert value.min() > 0 and value.max() < 1


def test_unet_logits_and_attention():
    enc, head = unet_pair()
    assert head.provides_attention is True
    feats = enc(torch.randn(2, 1, 64, 64))
    logits, attention = head.forward_with_attention(feats)
    assert logits.shape == (2, 4, 64, 64)
    check_attention(attention, feats)
    head.eval()
    assert torch.allclose(head(feats), head.forward_with_attention(feats)[0])


def test_resnet18_backbone_plugs_in():
    enc = MODELS.build(RESNET18)
    head = MODELS.build(
        dict(
            type='AttUNetHead', in_channels=[64, 128, 256, 512],
            num_classes=4))
    feats = enc(torch.randn(2, 1, 64, 64))
    assert [f.shape[-1] for f in feats] == [16, 8, 4, 2]
    logits, attention = head.forward_with_attention(feats)
    assert logits.shape == (2, 4, 16, 16)  # highest-resolution level (1/4)
    check_attention(attention, feats)

    samples = []
    for _ in range(2):
        s = SegDataSample()
        s.gt_sem_seg = PixelData(data=torch.randint(0, 4, (1, 64, 64)))
        samples.append(s)
    losses = head.loss(feats, samples, train_cfg=None)
    assert set(losses) >= {'loss_ce', 'loss_dice', 'acc_seg'}
    assert torch.isfinite(losses['loss_ce'] + losses['loss_dice'])
    losses['loss_dice'].backward()
    assert head.conv_seg.weight.grad is not None


def test_head_selects_levels_with_in_index():
    enc = MODELS.build(RESNET18)
    head = MODELS.build(
        dict(
            type='AttUNetHead',
            in_channels=[128, 256, 512],
            in_index=[1, 2, 3],
            num_classes=3))
    logits, attention = head.forward_with_attention(
        enc(torch.randn(1, 1, 64, 64)))
    assert logits.shape == (1, 3, 8, 8)
    assert [a['channel'].shape[1] for a in attention] == [128, 256, 512]


def test_plain_decoder_has_no_attention():
    enc, head = unet_pair(attention=False)
    assert head.provides_attention is False
    feats = enc(torch.randn(1, 1, 32, 32))
    assert head(feats).shape == (1, 4, 32, 32)
    with pytest.raises(RuntimeError, match='attention=False'):
        head.forward_with_attention(feats)


def test_decodes_perturbed_features_and_odd_sizes():
    enc, head = unet_pair()
    enc.eval(), head.eval()
    feats = enc(torch.randn(2, 1, 60, 44))  # 60 -> 30 -> 15 -> 7 -> 3
    clean = head(feats)
    assert clean.shape == (2, 4, 60, 44)
    dropped = tuple(f * (torch.rand(f.shape[:2] + (1, 1)) > 0.5)
                    for f in feats)
    perturbed = head(dropped)
    assert perturbed.shape == clean.shape
    assert not torch.allclose(perturbed, clean)


def test_encoder_decoder_predict_returns_original_size():
    model = MODELS.build(
        ConfigDict(
            type='EncoderDecoder',
            data_preprocessor=dict(
                type='mmseg.SegDataPreProcessor',
                mean=[0.],
                std=[1.],
                size=(32, 32)),
            backbone=dict(type='UNetEncoder'),
            decode_head=dict(type='AttUNetHead', num_classes=4),
            test_cfg=dict(mode='whole')))
    model.init_weights()  # mmseg's init_cfg of conv_seg finds our 3x3 conv
    assert model.decode_head.conv_seg.kernel_size == (3, 3)
    model.eval()
    sample = SegDataSample(
        metainfo=dict(
            img_shape=(32, 32), ori_shape=(40, 36), pad_shape=(32, 32)))
    with torch.no_grad():
        out = model.predict(torch.randn(1, 1, 32, 32), [sample])
    assert out[0].pred_sem_seg.data.shape == (1, 40, 36)
    assert out[0].seg_logits.data.shape == (4, 40, 36)


def test_bad_configuration_and_inputs():
    with pytest.raises(ValueError, match='in_channels'):
        MODELS.build(dict(type='AttUNetHead', in_channels=16, num_classes=2))
    with pytest.raises(ValueError, match=r'channels=32.*leave it out'):
        MODELS.build(dict(type='AttUNetHead', channels=32, num_classes=4))
    with pytest.raises(ValueError, match='multiple_select'):
        MODELS.build(
            dict(
                type='AttUNetHead',
                num_classes=4,
                input_transform='resize_concat'))
    with pytest.raises(ValueError, match='upsample'):
        MODELS.build(
            dict(type='AttUNetHead', num_classes=4, upsample='nearest'))
    head = MODELS.build(dict(type='AttUNetHead', num_classes=4))
    wrong = [
        torch.randn(1, c, s, s)
        for c, s in zip((16, 32, 64, 128, 512), (32, 16, 8, 4, 2))
    ]
    with pytest.raises(ValueError, match=r"backbone's output channels"):
        head(wrong)
    with pytest.raises(ValueError, match='gave 3 levels'):
        head(wrong[:3])


def test_residual_gating_keeps_every_feature():
    from projects.aigcmatch.models.decode_heads.channel_spatial_attention \
        import ChannelSpatialAttention
    torch.manual_seed(0)
    x = torch.randn(2, 8, 6, 6)
    gate = ChannelSpatialAttention(8, gating='multiply')
    res = ChannelSpatialAttention(8, gating='residual')
    res.load_state_dict(gate.state_dict())
    out_g, att_g = gate(x)
    out_r, att_r = res(x)
    torch.testing.assert_close(
        out_g, x * att_g['channel'][:, :, None, None] * att_g['spatial'])
    # x * (1 + c) * (1 + s): the weights lie in (1, 2), nothing is gated off
    channel = att_r['channel'][:, :, None, None]
    torch.testing.assert_close(out_r, x * (1 + channel) * (1 + att_r['spatial']))
    with pytest.raises(ValueError, match='`gating` must be'):
        ChannelSpatialAttention(8, gating='add')
