import os

import pytest
import torch
import torch.distributed as dist
import torch.nn as nn
from mmengine.config import Config

from projects.aigcmatch.compat import (DeviceAwareDistributedDataParallel,
                                       amp_dtype, cleanup_distributed,
                                       init_distributed)
from projects.aigcmatch.compat.distributed import cuda_usable
from projects.aigcmatch.utils import device_config, sanitize_cfg_for_device


@pytest.mark.skipif(cuda_usable(), reason='CPU-only behaviour')
def test_sanitize_cfg_reverts_syncbn_and_backend():
    cfg = Config(
        dict(
            model=dict(
                backbone=dict(norm_cfg=dict(type='SyncBN')),
                decode_head=dict(norm_cfg=dict(type='SyncBN'))),
            sync_bn='torch',
            env_cfg=dict(dist_cfg=dict(backend='nccl'))))
    changes = sanitize_cfg_for_device(cfg)
    assert cfg.model.backbone.norm_cfg.type == 'BN'
    assert cfg.model.decode_head.norm_cfg.type == 'BN'
    assert cfg.sync_bn is None
    assert cfg.env_cfg.dist_cfg.backend == 'gloo'
    assert len(changes) == 4


@pytest.mark.skipif(cuda_usable(), reason='CPU-only behaviour')
@pytest.mark.parametrize('bf16', [True, False])
def test_sanitize_cfg_turns_amp_configs_into_cpu_training(monkeypatch, bf16):
    monkeypatch.setattr(device_config, 'cpu_bf16_supported', lambda: bf16)
    cfg = Config(
        dict(
            optim_wrapper=dict(
                type='AmpOptimWrapper',
                dtype='float16',
                loss_scale='dynamic',
                optimizer=dict(type='SGD', lr=0.01))))
    changes = sanitize_cfg_for_device(cfg)
    # mmengine's AmpOptimWrapper asserts CUDA: it would stop the run
    kind = 'CPUAutocastOptimWrapper' if bf16 else 'OptimWrapper'
    assert cfg.optim_wrapper == dict(
        type=kind, optimizer=dict(type='SGD', lr=0.01))
    assert len(changes) == 1
    assert changes[0].startswith(f'optim_wrapper.type: AmpOptimWrapper -> '
                                 f'{kind} (no CUDA')
    assert amp_dtype() == 'float16'  # no GPU: the fallback


@pytest.mark.skipif(cuda_usable(), reason='CPU-only behaviour')
def test_sanitize_cfg_unpins_every_loader_also_in_train_cfg():
    cfg = Config(
        dict(
            train_dataloader=dict(pin_memory=True),
            train_cfg=dict(unlabeled_dataloader=dict(pin_memory=True)),
            val_dataloader=dict(pin_memory=False)))
    changes = sanitize_cfg_for_device(cfg)
    assert not cfg.train_dataloader.pin_memory
    assert not cfg.train_cfg.unlabeled_dataloader.pin_memory
    assert changes == [
        'train_dataloader.pin_memory: True -> False (no CUDA)',
        'unlabeled_dataloader.pin_memory: True -> False (no CUDA)'
    ]


def test_launcher_pytorch_without_torchrun_env_is_a_clear_error(monkeypatch):
    for key in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT'):
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(RuntimeError, match='variable RANK.*torchrun'):
        init_distributed('pytorch')


def test_cpu_ddp_wrapper_single_process(monkeypatch):
    port = 29000 + os.getpid() % 1000
    for key, value in dict(RANK='0', LOCAL_RANK='0', WORLD_SIZE='1',
                           MASTER_ADDR='127.0.0.1',
                           MASTER_PORT=str(port)).items():
        monkeypatch.setenv(key, value)
    init_distributed('pytorch')
    try:
        assert dist.get_backend() == ('nccl' if cuda_usable() else 'gloo')
        # mmengine passes device_ids=[LOCAL_RANK]; a CPU module must still wrap
        model = DeviceAwareDistributedDataParallel(
            nn.Linear(3, 1), device_ids=[0])
        assert model.device_ids is None
        out = model(torch.rand(2, 3))
        out.sum().backward()
    finally:
        cleanup_distributed()
    assert not dist.is_initialized()
