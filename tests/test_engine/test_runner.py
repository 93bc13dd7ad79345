"""AIGCMatchRunner: total batch split over processes, the log line, and
overrides of max_iters / data_root that the schedule and datasets follow."""
import os.path as osp

import pytest
from mmengine.config import Config

from projects.aigcmatch.engine.runner import (batch_size_scope,
                                              follow_data_root,
                                              follow_max_iters,
                                              split_total_batch)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_total_batch_is_split_equally_or_refused():
    labeled, unlabeled = dict(batch_size=12), dict(batch_size=12)
    mix = unlabeled  # one config listed twice is split once
    sizes = split_total_batch([('train_dataloader', labeled),
                               ('unlabeled_dataloader', unlabeled),
                               ('mix_dataloader', mix)], 4)
    assert labeled['batch_size'] == unlabeled['batch_size'] == 3
    assert sizes == {k: (12, 3) for k in ('train_dataloader',
                                          'unlabeled_dataloader',
                                          'mix_dataloader')}
    with pytest.raises(ValueError, match=r'train_dataloader\.batch_size is '
                       r'12, the total batch of one step .* 5 processes '
                       r'cannot share it equally: run 1, 2, 3, 4, 6, 12 '
                       'processes'):
        split_total_batch([('train_dataloader', dict(batch_size=12))], 5)


def test_shipped_configs_state_the_total_batch():
    cfg = Config.fromfile(osp.join(ROOT, 'configs/aigcmatch_acdc_7case.py'))
    assert batch_size_scope(cfg) == 'total'
    assert cfg.runner_type == 'AIGCMatchRunner'
    assert cfg.train_dataloader.batch_size == 12
    assert cfg.auto_scale_lr == dict(enable=False, base_batch_size=12)
    assert batch_size_scope(Config(dict())) == 'per_process'
    with pytest.raises(ValueError, match="batch_size_scope is 'all'"):
        batch_size_scope(Config(dict(batch_size_scope='all')))


def demo(**options):
    from projects.aigcmatch.utils import apply_cfg_options
    path = osp.join(ROOT, 'configs/demo/aigcmatch_demo_3case.py')
    cfg, written = Config.fromfile(path), Config.fromfile(path)
    apply_cfg_options(cfg, options)
    return cfg, written


def test_max_iters_override_moves_the_schedule_and_the_warmup():
    cfg, written = demo(**{'train_cfg.max_iters': 30})
    notes = follow_max_iters(cfg, written)
    assert cfg.param_scheduler[0].end == 30
    warmup = [h for h in cfg.custom_hooks
              if h.type == 'UnsupWeightWarmupHook']
    assert warmup[0].warmup_iters == 15  # half the run, as written (200/400)
    assert notes == ['train_cfg.max_iters 400 -> 30: moved '
                     'param_scheduler[0] PolyLR end 400 -> 30, '
                     'UnsupWeightWarmupHook warmup_iters 200 -> 15']
    # the top-level variable, which configs read only when loaded, too
    cfg, written = demo(max_iters=40)
    follow_max_iters(cfg, written)
    assert (cfg.train_cfg.max_iters, cfg.param_scheduler[0].end) == (40, 40)


def test_a_schedule_overridden_too_is_left_as_given():
    cfg, written = demo(**{'train_cfg.max_iters': 2000,
                           'param_scheduler.0.end': 1000})
    follow_max_iters(cfg, written)
    assert cfg.param_scheduler[0].end == 1000
    cfg, written = demo()
    assert follow_max_iters(cfg, written) == []  # nothing overridden


def test_warmup_scheduler_keeps_its_share():
    written = Config(dict(
        train_cfg=dict(max_iters=30000),
        param_scheduler=[
            dict(type='LinearLR', begin=0, end=1500, by_epoch=False),
            dict(type='PolyLR', begin=1500, end=30000, by_epoch=False)
        ]))
    cfg = Config(written.to_dict())
    cfg.train_cfg.max_iters = 300
    follow_max_iters(cfg, written)
    assert [(s.begin, s.end) for s in cfg.param_scheduler] == [(0, 15),
                                                               (15, 300)]


def test_data_root_override_reaches_the_datasets():
    cfg, written = demo()
    cfg.data_root = '/mnt/acdc'  # as mmseg's own tools merge --cfg-options
    cfg.val_dataloader.dataset.data_root = 'elsewhere'
    notes = follow_data_root(cfg, written)
    assert cfg.train_dataloader.dataset.data_root == '/mnt/acdc'
    assert cfg.unlabeled_dataloader.dataset.data_root == '/mnt/acdc'
    assert cfg.test_dataloader.dataset.data_root == '/mnt/acdc'
    assert cfg.val_dataloader.dataset.data_root == 'elsewhere'
    assert notes[0].startswith('data_root data/demo_acdc -> /mnt/acdc: '
                               're-pointed')


def test_train_tool_refuses_a_process_count_before_building():
    from projects.aigcmatch.engine.runner import check_total_batch
    cfg = Config.fromfile(osp.join(ROOT, 'configs/aigcmatch_acdc_7case.py'))
    check_total_batch(cfg, 4)  # 3 + 3 each
    with pytest.raises(ValueError, match='5 processes cannot share it'):
        check_total_batch(cfg, 5)
    assert cfg.train_dataloader.batch_size == 12  # not changed
    cfg.batch_size_scope = 'per_process'
    check_total_batch(cfg, 5)  # mmengine's meaning: 12 each
