"""AIGCMatch trains with any mmseg backbone: 5 iterations with tools/train.py
for UNetEncoder, mmseg's UNet (deepest level first, in_index=[4, 3, 2, 1, 0]),
ResNetV1c-18 (1-channel stem) and MobileNetV2 (3-channel stem behind
ChannelAdapter), with AttCutMix and AttFeaPerb on."""
import glob
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config

from tiny_configs import ROOT, write_tiny_config

CONFIGS = {
    'UNetEncoder': 'configs/aigcmatch_acdc_7case.py',
    'UNet': 'configs/aigcmatch_mmsegunet_acdc_7case.py',
    'ResNetV1c': 'configs/aigcmatch_resnet18_acdc_7case.py',
    'MobileNetV2': 'configs/aigcmatch_mobilenetv2_acdc_7case.py',
}


@pytest.mark.parametrize('backbone', list(CONFIGS))
def test_aigcmatch_trains_five_iterations(backbone, tiny_acdc_root, tmp_path):
    config = write_tiny_config(CONFIGS[backbone], tiny_acdc_root,
                               str(tmp_path), max_iters=5, interval=5)
    cfg = Config.fromfile(config)
    inner = cfg.model.backbone.get('backbone', cfg.model.backbone)
    assert inner.type == backbone
    assert (cfg.model.image_perturbation.type,
            cfg.model.feature_perturbation.type) == ('AttCutMix',
                                                     'AttFeaPerb')
    work_dir = tmp_path / 'work'
    proc = subprocess.run(
        [sys.executable, 'tools/train.py', config, '--work-dir',
         str(work_dir)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
        env=dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1'))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    records = []
    for log in glob.glob(str(work_dir / '*' / 'vis_data' / 'scalars.json')):
        with open(log) as f:
            records += [json.loads(line) for line in f if line.strip()]
    train = [r for r in records if 'loss' in r]
    assert [r['iter'] for r in train] == [1, 2, 3, 4, 5]
    for r in train:
        # every branch trained: labeled, both strong views, the FP branch
        for key in ('loss_x_ce', 'loss_s1', 'loss_s2', 'loss_fp'):
            assert r[key] == r[key], key  # logged and not NaN
        assert 0.0 <= r['fp_flip'] <= 1.0  # AttFeaPerb moved predictions
    assert any(r['fp_flip'] > 0 for r in train)
    assert osp.isfile(work_dir / 'iter_5.pth')
    assert any('mDice' in r for r in records)  # validated at the end


def test_channel_adapter_feeds_one_channel_slices_to_a_3_channel_stem():
    from mmseg.registry import MODELS
    adapter = MODELS.build(
        dict(type='ChannelAdapter', in_channels=1, out_channels=3,
             mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25),
             backbone=dict(type='MobileNetV2', out_indices=(1, 2, 4, 6))))
    adapter.eval()  # BN of a 1x1 map needs more than one image in training
    feats = adapter(torch.rand(2, 1, 32, 32))
    assert [tuple(f.shape[1:]) for f in feats] == [(24, 8, 8), (32, 4, 4),
                                                   (96, 2, 2), (320, 1, 1)]
    # the stem sees the gray slice in all three channels, normalised
    seen = []
    hook = adapter.backbone.conv1.register_forward_hook(
        lambda m, args, out: seen.append(args[0]))
    x = torch.rand(1, 1, 32, 32)
    adapter(x)
    hook.remove()
    assert torch.allclose(seen[0], ((x - 0.5) / 0.25).expand(1, 3, 32, 32))
    # no parameter of its own: a plain MobileNetV2 checkpoint fits
    assert {k[len('backbone.'):] for k in adapter.state_dict()} == set(
        adapter.backbone.state_dict())
    conv = MODELS.build(
        dict(type='ChannelAdapter', mode='conv',
             backbone=dict(type='MobileNetV2', out_indices=(1, ))))
    conv.init_weights()
    assert torch.equal(conv.adapter(x), x.expand(1, 3, 32, 32))
    with pytest.raises(ValueError, match=r'expected images \(B, 1, H, W\), '
                       r'got \(1, 3, 32, 32\)'):
        adapter(torch.rand(1, 3, 32, 32))
    with pytest.raises(ValueError, match='mean needs one value per stem'):
        MODELS.build(dict(type='ChannelAdapter', mean=(0.5, ),
                          backbone=dict(type='MobileNetV2')))
