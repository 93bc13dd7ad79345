"""tools/analysis/attention_diagnostics.py on a tiny config and checkpoint."""
import torch
from tiny_configs import write_tiny_config

from mmseg.registry import MODELS
from mmengine.config import Config
from tools.analysis.attention_diagnostics import main

import pytest


def test_prints_every_diagnostic(tiny_acdc_root, tmp_path, capsys):
    config = write_tiny_config('configs/demo/aigcmatch_demo_3case.py',
                               tiny_acdc_root, str(tmp_path))
    model = MODELS.build(Config.fromfile(config).model)
    model.init_weights()
    ckpt = str(tmp_path / 'model.pth')
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    main([config, ckpt, '--max-slices', '6', '--draws', '3'])
    out = capsys.readouterr().out
    assert "on 6 slices of split 'val'; attention source PredictionAttention" in out
    values = dict(
        line.split() for line in out.splitlines() if len(line.split()) == 2)
    for key in ('att_auc', 'att_entropy', 'box_fg', 'box_fg_random',
                'box_iou', 'fp_flip', 'conf_ratio_c1',
                'pseudo_precision_c3', 'channel_overlap_l0',
                'channel_overlap_random_l0'):
        assert 0.0 <= float(values[key]) <= 1.0, key
    assert float(values['channel_overlap_random_l0']) == 0.5


def test_refuses_a_model_without_attention_or_perturbation(tiny_acdc_root,
                                                           tmp_path):
    from projects.aigcmatch.utils import UserError
    config = write_tiny_config('configs/demo/supbaseline_demo_3case.py',
                               tiny_acdc_root, str(tmp_path))
    model = MODELS.build(Config.fromfile(config).model)
    ckpt = str(tmp_path / 'model.pth')
    torch.save(dict(state_dict=model.state_dict()), ckpt)
    with pytest.raises(UserError, match='nothing to diagnose'):
        main([config, ckpt])
