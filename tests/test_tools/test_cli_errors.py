"""Bad input to the command-line tools: one clear line, non-zero exit."""
import os
import os.path as osp
import subprocess
import sys

import pytest
from mmengine.config import Config

from projects.aigcmatch.utils import (UserError, apply_cfg_options,
                                      check_num_classes, check_training_config,
                                      load_config, refuse_to_clobber_work_dir)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def run(*args, env=None):
    full_env = dict(os.environ, **(env or {}))
    full_env.pop('AIGCMATCH_DEBUG', None)
    return subprocess.run(
        list(args), cwd=ROOT, capture_output=True, text=True, env=full_env,
        timeout=300)


def assert_one_clear_error(proc, pattern):
    assert proc.returncode == 2, proc.stderr
    assert 'Traceback' not in proc.stderr
    import re
    assert re.search(pattern, proc.stderr), proc.stderr


def test_train_unknown_config_path():
    proc = run(sys.executable, 'tools/train.py', 'configs/nope_acdc_7case.py')
    assert_one_clear_error(proc, r'error: config file "configs/nope_acdc_7case'
                           r'\.py" not found')


def test_train_unknown_cfg_option_key():
    proc = run(sys.executable, 'tools/train.py',
               'configs/supbaseline_acdc_7case.py', '--cfg-options',
               'train_cfg.max_iter=10')
    assert_one_clear_error(
        proc, r'--cfg-options train_cfg.max_iter: "max_iter" is not a key of '
        r'train_cfg; did you mean "max_iters"\?')


def test_test_missing_checkpoint():
    proc = run(sys.executable, 'tools/test.py',
               'configs/supbaseline_acdc_7case.py', 'missing/iter_1.pth')
    assert_one_clear_error(proc, r'checkpoint "missing/iter_1.pth" not found')


@pytest.mark.parametrize('ngpus', ['0', 'two', '-1', '1.5'])
def test_dist_train_ngpus_must_be_positive_integer(ngpus):
    proc = run('bash', 'tools/dist_train.sh', 'configs/x.py', ngpus)
    assert proc.returncode == 2
    assert 'NGPUS must be a positive integer' in proc.stderr


def test_dist_test_ngpus_must_be_positive_integer():
    proc = run('bash', 'tools/dist_test.sh', 'configs/x.py', 'c.pth', 'x')
    assert proc.returncode == 2
    assert 'NGPUS must be a positive integer' in proc.stderr


def test_cfg_options_number_must_stay_a_number():
    cfg = Config(dict(train_cfg=dict(max_iters=10)))
    with pytest.raises(UserError, match=r'max_iters=.*expected a number'):
        apply_cfg_options(cfg, {'train_cfg.max_iters': 'ten'})


def test_cfg_options_integer_stays_integer_and_scalar_stays_scalar():
    cfg = Config(dict(train_cfg=dict(max_iters=10), model=dict(t=0.95)))
    with pytest.raises(UserError, match=r'max_iters=10\.5: expected an '
                       r'integer like the current value 10'):
        apply_cfg_options(cfg, {'train_cfg.max_iters': 10.5})
    with pytest.raises(UserError, match=r'model\.t=\[0\.5\]: expected a '
                       r'number like the current value 0\.95'):
        apply_cfg_options(cfg, {'model.t': [0.5]})
    with pytest.raises(UserError, match=r'expected a number'):
        apply_cfg_options(cfg, {'model.t': True})
    # one threshold per class may replace the number (the model checks it)
    cfg.model.conf_thresh = 0.95
    apply_cfg_options(cfg, {'model.conf_thresh': (0.95, 0.8)})
    assert cfg.model.conf_thresh == [0.95, 0.8]
    with pytest.raises(UserError, match='expected a number'):
        apply_cfg_options(cfg, {'model.t': [0.95, 0.8]})
    apply_cfg_options(cfg, {'train_cfg.max_iters': 12.0, 'model.t': 1})
    assert cfg.train_cfg.max_iters == 12
    assert isinstance(cfg.train_cfg.max_iters, int)
    assert cfg.model.t == 1


@pytest.mark.parametrize('option, message', [
    ('train_cfg.max_iters=10.5',
     r'error: --cfg-options train_cfg\.max_iters=10\.5: expected an integer '
     r'like the current value 30000'),
    ('train_cfg.max_iters=[5]',
     r'error: --cfg-options train_cfg\.max_iters=\[5\]: expected a number '
     r'like the current value 30000'),
    ('model.conf_thresh=[0.5]',
     r'error: model\.conf_thresh has 1 values \[0\.5\]; expected one per '
     r'class \(4, model\.decode_head\.num_classes\) or a single number'),
    ('train_cfg.type=IterBasedTrainLoop',
     r'error: train_cfg\.type is IterBasedTrainLoop, a loop that feeds no '
     r'unlabeled data, but the model learns from unlabeled data '
     r'\(image_perturbation=AttCutMix, feature_perturbation=AttFeaPerb\)'),
])
def test_train_refuses_values_that_would_fail_late_or_train_wrong(
        option, message):
    # refused before any data is read: data/ACDC need not exist
    proc = run(sys.executable, 'tools/train.py',
               'configs/aigcmatch_acdc_7case.py', '--cfg-options', option)
    assert_one_clear_error(proc, message)
    assert proc.stderr.count('error:') == 1


def test_supervised_loop_needs_a_model_without_perturbations():
    sup = load_config(osp.join(ROOT, 'configs/supbaseline_acdc_7case.py'))
    check_training_config(sup)  # IterBasedTrainLoop, no perturbation
    fix = load_config(osp.join(ROOT, 'configs/fixmatch_acdc_7case.py'))
    check_training_config(fix)  # SemiSupervisedIterLoop
    fix.train_cfg.type = 'IterBasedTrainLoop'
    with pytest.raises(UserError, match=r'image_perturbation=RandomCutMix\)'):
        check_training_config(fix)
    fix.model.image_perturbation = None
    check_training_config(fix)
    sup.train_cfg.max_iters = 10.5  # in a config file, not --cfg-options
    with pytest.raises(UserError, match=r'train_cfg\.max_iters is 10\.5; '
                       'expected a positive integer'):
        check_training_config(sup)


def test_cfg_options_list_index_and_new_keys():
    cfg = Config(dict(loss=[dict(w=1.0), dict(w=2.0)]))
    apply_cfg_options(cfg, {'loss.1.w': 0.5})
    assert cfg.loss[1].w == 0.5
    with pytest.raises(UserError, match='"extra" is not a key of loss.0'):
        apply_cfg_options(cfg, {'loss.0.extra': 1})
    apply_cfg_options(cfg, {'loss.0.extra': 1}, allow_new_keys=True)
    assert cfg.loss[0].extra == 1


def test_data_root_option_repoints_every_dataset():
    cfg = Config(
        dict(
            data_root='data/ACDC',
            train_dataloader=dict(dataset=dict(data_root='data/ACDC')),
            unlabeled_dataloader=dict(dataset=dict(data_root='data/ACDC')),
            val_dataloader=dict(dataset=dict(data_root='elsewhere'))))
    apply_cfg_options(cfg, {'data_root': '/mnt/acdc'})
    assert cfg.train_dataloader.dataset.data_root == '/mnt/acdc'
    assert cfg.unlabeled_dataloader.dataset.data_root == '/mnt/acdc'
    # a dataset the user pointed elsewhere on purpose is left alone
    assert cfg.val_dataloader.dataset.data_root == 'elsewhere'


def test_work_dir_with_checkpoints_is_not_clobbered(tmp_path):
    (tmp_path / 'iter_100.pth').write_bytes(b'x')
    with pytest.raises(UserError, match='already holds checkpoints.*--resume'):
        refuse_to_clobber_work_dir(str(tmp_path), resume=False)
    refuse_to_clobber_work_dir(str(tmp_path), resume=True)
    refuse_to_clobber_work_dir(str(tmp_path / 'fresh'), resume=False)


def test_head_and_dataset_classes_must_agree():
    proc = run(sys.executable, 'tools/train.py',
               'configs/aigcmatch_acdc_7case.py', '--cfg-options',
               'model.decode_head.num_classes=3')
    assert_one_clear_error(
        proc, r'model.decode_head.num_classes is 3, but train_dataloader'
        r'.dataset \(ACDCDataset\) has 4 classes .*num_classes=4')


def test_class_check_reads_a_metainfo_override():
    cfg = Config(
        dict(
            model=dict(decode_head=dict(num_classes=2)),
            val_dataloader=dict(dataset=dict(type='ACDCDataset')),
            test_dataloader=dict(
                dataset=dict(
                    type='ACDCDataset',
                    metainfo=dict(classes=('background', 'LV'))))))
    with pytest.raises(UserError, match=r'val_dataloader.dataset .* has 4 '):
        check_num_classes(cfg)
    cfg.val_dataloader.dataset.metainfo = dict(classes=('background', 'LV'))
    check_num_classes(cfg)  # agrees now
    cfg.model.decode_head.num_classes = None
    check_num_classes(cfg)  # nothing to compare against
