"""A tiny UNetEncoder + AttUNetHead segmentor, its config file and checkpoint.

Random weights, never trained: the tests check shapes, formats, metadata and
the plumbing, not segmentation quality. ``lv_everywhere=True`` plants a model
that predicts class 3 (LV) at every pixel, so volumes and EF are known by
hand.
"""
import os.path as osp

import torch
from mmengine.config import Config

ACDC_META = dict(
    classes=('background', 'RV', 'Myo', 'LV'),
    palette=[[0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255]])

CONFIG_TEMPLATE = '''
default_scope = 'mmseg'
custom_imports = dict(
    imports=['projects.aigcmatch'], allow_failed_imports=False)
crop_size = (256, 256)
norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    type='WeakToStrongSegmentor',
    data_preprocessor=dict(
        type='MultiBranchSegDataPreProcessor', mean=[0.0], std=[1.0],
        bgr_to_rgb=False, pad_val=0, seg_pad_val=255, size_divisor=16),
    backbone=dict(type='UNetEncoder', in_channels=1, channels=(4, 8, 8, 8, 8),
                  dropout=(0.0, 0.0, 0.0, 0.0, 0.0), norm_cfg=norm_cfg),
    decode_head=dict(type='AttUNetHead', in_channels=[4, 8, 8, 8, 8],
                     in_index=[0, 1, 2, 3, 4], channels=4,
                     num_classes={num_classes}, attention=True,
                     upsample='bilinear', norm_cfg=norm_cfg,
                     align_corners=False),
    test_cfg=dict(mode='whole'))
test_pipeline = [
    dict(type='LoadH5Image'),
    dict(type='Resize', scale=(256, 256), keep_ratio=False,
         interpolation='bilinear'),
    dict(type='LoadH5Annotations'),
    dict(type='PackSegInputs',
         meta_keys=('img_path', 'ori_shape', 'img_shape', 'scale_factor',
                    'case_id', 'slice_idx', 'num_slices', 'spacing')),
]
'''


def write_config(folder: str,
                 num_classes: int = 4,
                 name: str = 'tiny_acdc.py') -> str:
    """Write the tiny config into ``folder``; returns its path."""
    path = osp.join(folder, name)
    with open(path, 'w') as f:
        f.write(CONFIG_TEMPLATE.format(num_classes=num_classes))
    return path


def build_model(config_path: str):
    """The config's model with random (seeded) weights."""
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS
    init_default_scope('mmseg')
    torch.manual_seed(0)
    cfg = Config.fromfile(config_path)
    model = MODELS.build(cfg.model)
    model.eval()
    return model


def calibrate_batch_norm(model) -> None:
    """Set BN running statistics from a few random images with a bright box.

    With the default statistics (mean 0, var 1) a random tiny network maps
    every pixel of a [0, 1] image to the same class; with calibrated ones its
    (still random) prediction varies over the image, so tests that compare
    two prediction paths can tell them apart.
    """
    norms = [
        m for m in model.modules()
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
    ]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average over the batches below
    generator = torch.Generator().manual_seed(0)
    model.train()
    with torch.no_grad():
        for _ in range(2):
            x = torch.rand(2, 1, 128, 128, generator=generator)
            x[:, :, 50:80, 45:85] += 1.0
            model.decode_head(model.extract_feat(x))
    model.eval()
    for norm in norms:
        norm.momentum = 0.1


def write_checkpoint(config_path: str,
                     path: str,
                     lv_everywhere: bool = False,
                     meta: bool = True) -> str:
    """Save a checkpoint of the config's model as mmengine does."""
    model = build_model(config_path)
    calibrate_batch_norm(model)
    if lv_everywhere:
        conv = model.decode_head.conv_seg
        with torch.no_grad():
            conv.weight.zero_()
            conv.bias.copy_(torch.tensor([0.0, 0.0, 0.0, 5.0]))
    ckpt = {'state_dict': model.state_dict()}
    if meta:
        ckpt['meta'] = {'dataset_meta': dict(ACDC_META), 'iter': 1}
    torch.save(ckpt, path)
    return path
