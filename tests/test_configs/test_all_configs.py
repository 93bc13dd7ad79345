"""Every config under configs/ parses, builds its model and its datasets, and
the method configs differ from each other only where the method does."""
import copy
import glob
import itertools
import os.path as osp
from typing import Dict, Iterable

import pytest
import torch
from mmengine.config import Config
from mmengine.runner import Runner

from mmseg.registry import DATASETS, MODELS
from projects.aigcmatch.utils import apply_cfg_options, check_num_classes
from projects.aigcmatch.utils.config import DATALOADER_KEYS

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..', '..', 'configs'))
CONFIGS = sorted(
    osp.relpath(path, ROOT)
    for path in glob.glob(osp.join(ROOT, '**', '*.py'), recursive=True)
    if '_base_' not in osp.relpath(path, ROOT).split(osp.sep))
CASES = (1, 3, 7)
METHODS = ('aigcmatch', 'unimatch', 'fixmatch', 'supbaseline')
ABLATIONS = {
    ('AttCutMix', 'AttFeaPerb'): 'ablation/attcutmix_attfeaperb_acdc_7case.py',
    ('AttCutMix', 'RandomFeaPerb'): 'ablation/attcutmix_random_acdc_7case.py',
    ('RandomCutMix', 'AttFeaPerb'): 'ablation/random_attfeaperb_acdc_7case.py',
    ('RandomCutMix', 'RandomFeaPerb'): 'ablation/random_random_acdc_7case.py',
}


def load(name: str) -> Config:
    return Config.fromfile(osp.join(ROOT, name))


def flatten(node, prefix: str = '') -> Dict[str, object]:
    """``{'model.backbone.type': 'UNetEncoder', ...}``; list items by index."""
    if isinstance(node, dict) and node:
        items = node.items()
    elif isinstance(node, (list, tuple)) and node:
        items = enumerate(node)
    else:
        return {prefix: node}
    out = {}
    for key, value in items:
        out.update(flatten(value, f'{prefix}.{key}' if prefix else str(key)))
    return out


def differing_keys(a: Config, b: Config) -> set:
    flat_a, flat_b = flatten(a.to_dict()), flatten(b.to_dict())
    return {
        key
        for key in set(flat_a) | set(flat_b)
        if flat_a.get(key, '<missing>') != flat_b.get(key, '<missing>')
    }


def assert_differ_only_in(a: str, b: str, allowed: Iterable[str]) -> None:
    """Configs ``a`` and ``b`` differ under each of ``allowed`` and nowhere
    else."""
    allowed = tuple(allowed)
    diff = differing_keys(load(a), load(b))

    def under(key, prefix):
        return key == prefix or key.startswith(prefix + '.')

    unexpected = sorted(
        k for k in diff if not any(under(k, p) for p in allowed))
    assert not unexpected, f'{a} vs {b}: unexpected differences {unexpected}'
    unchanged = [p for p in allowed if not any(under(k, p) for k in diff)]
    assert not unchanged, f'{a} vs {b}: expected differences in {unchanged}'


def test_every_config_is_found():
    expected = {
        f'{m}_acdc_{n}case.py'
        for m, n in itertools.product(METHODS, CASES)
    }
    expected |= set(ABLATIONS.values()) | {
        'aigcmatch_resnet18_acdc_7case.py', 'demo/aigcmatch_demo_3case.py',
        'demo/supbaseline_demo_3case.py'
    }
    assert expected <= set(CONFIGS)
    assert not any('_base_' in name for name in CONFIGS)


# --------------------------------------------------------------------- #
# each config
# --------------------------------------------------------------------- #
@pytest.mark.parametrize('name', CONFIGS)
def test_parses_and_model_builds(name):
    cfg = load(name)
    check_num_classes(cfg)  # head and every dataset agree on the classes
    assert cfg.default_scope == 'mmseg'
    assert cfg.custom_imports == dict(
        imports=['projects.aigcmatch'], allow_failed_imports=False)
    assert cfg.train_cfg.type in ('SemiSupervisedIterLoop',
                                  'IterBasedTrainLoop')
    model = MODELS.build(cfg.model).eval()
    assert type(model).__name__ == 'WeakToStrongSegmentor'
    assert model.decode_head.num_classes == 4
    # The model runs on a 1-channel slice.
    with torch.no_grad():
        logits = model.encode_decode(
            torch.rand(1, 1, 32, 32), [dict(img_shape=(32, 32))])
    assert logits.shape == (1, 4, 32, 32)


@pytest.fixture(scope='module')
def build_dataset(tiny_acdc_root):
    """Builds a dataset config once (many configs share the same)."""
    built = {}

    def build(dataset_cfg):
        key = repr(dataset_cfg)
        if key not in built:
            built[key] = DATASETS.build(copy.deepcopy(dataset_cfg))
        return built[key]

    return build


@pytest.mark.parametrize('name', CONFIGS)
def test_datasets_build_on_a_tiny_tree(name, tiny_acdc_root,
                                       colin27_stand_in_root, build_dataset):
    cfg = load(name)
    root = colin27_stand_in_root if 'colin27' in name else tiny_acdc_root
    apply_cfg_options(cfg, {'data_root': root})
    crop = tuple(cfg.crop_size)
    loaders = [n for n in DATALOADER_KEYS if cfg.get(n)]
    assert {'train_dataloader', 'val_dataloader',
            'test_dataloader'} <= set(loaders)
    if cfg.train_cfg.type == 'SemiSupervisedIterLoop':
        assert 'unlabeled_dataloader' in loaders
    for loader in loaders:
        dataset_cfg = cfg[loader].dataset
        assert dataset_cfg.data_root == root, loader
        dataset = build_dataset(dataset_cfg)
        assert len(dataset) > 0, loader
        sample = dataset[0]
        if dataset.mode == 'unlabeled':
            assert set(sample['inputs']) >= {'weak', 'strong1', 'strong2'}
            assert 'gt_sem_seg' not in sample['data_samples']
            shapes = {tuple(v.shape) for v in sample['inputs'].values()}
            assert shapes == {(1, ) + crop}
        else:
            assert sample['inputs'].shape == (1, ) + crop, loader
        if dataset.mode == 'labeled':
            assert sample['data_samples'].gt_sem_seg.shape == crop
        if dataset.mode == 'volume':
            # The label keeps the slice's original size (~32x32 here).
            meta = sample['data_samples'].metainfo
            assert sample['data_samples'].gt_sem_seg.shape == \
                meta['ori_shape'] != crop
            assert {'case_id', 'slice_idx', 'num_slices'} <= set(meta)


# --------------------------------------------------------------------- #
# what the configs differ in
# --------------------------------------------------------------------- #
@pytest.mark.parametrize('n', CASES)
def test_method_configs_differ_only_in_the_method(n):
    base = f'aigcmatch_acdc_{n}case.py'
    perturbations = ('model.image_perturbation', 'model.feature_perturbation')
    # UniMatch also trains as its code does (docs/method.md).
    assert_differ_only_in(
        base, f'unimatch_acdc_{n}case.py',
        ('model.attention_source', 'model.mix_source', 'model.bn_stats') +
        perturbations)
    assert_differ_only_in(
        base, f'fixmatch_acdc_{n}case.py',
        ('model.attention_source', 'model.strong_views',
         'model.loss_weights.strong', 'model.loss_weights.fp') + perturbations)
    assert_differ_only_in(base, f'supbaseline_acdc_{n}case.py',
                          ('model.attention_source', 'train_cfg.type') +
                          perturbations)

    aigc, uni, fix, sup = (load(f'{m}_acdc_{n}case.py').model for m in METHODS)
    # one network for all four: the attention comes from the prediction
    assert not aigc.decode_head.attention
    assert aigc.attention_source == dict(type='PredictionAttention')
    assert (aigc.image_perturbation.type,
            aigc.feature_perturbation.type) == ('AttCutMix', 'AttFeaPerb')
    assert aigc.image_perturbation.paste == 'target_least'
    assert not uni.decode_head.attention
    assert uni.image_perturbation.type == 'RandomCutMix'
    assert uni.feature_perturbation == dict(type='RandomFeaPerb', p=0.5)
    assert (uni.mix_source, uni.fp_decode, uni.bn_stats) == ('loader', 'joint',
                                                             'all')
    assert (aigc.mix_source, aigc.fp_decode, aigc.bn_stats) == ('batch',
                                                                'joint',
                                                                'clean')
    assert fix.image_perturbation == uni.image_perturbation
    assert fix.get('feature_perturbation') is None
    assert tuple(fix.strong_views) == ('strong1', )
    assert fix.loss_weights == dict(labeled=1.0, strong=1.0, fp=0.0)
    # Not set: the segmentor's defaults (None) switch both hooks off.
    assert sup.get('image_perturbation') is None
    assert sup.get('feature_perturbation') is None
    assert load(f'supbaseline_acdc_{n}case.py').train_cfg.type == \
        'IterBasedTrainLoop'
    # UniMatch's box distribution for every CutMix.
    for cutmix in (aigc.image_perturbation, uni.image_perturbation):
        assert (cutmix.prob, tuple(cutmix.area_range)) == (0.5, (0.02, 0.4))
        assert tuple(cutmix.aspect_range) == pytest.approx((0.3, 1 / 0.3))


@pytest.mark.parametrize('method', METHODS)
def test_case_counts_differ_only_in_the_splits(method):
    split_keys = ('train_dataloader.dataset.split',
                  'unlabeled_dataloader.dataset.split',
                  'mix_dataloader.dataset.split')
    for a, b in itertools.combinations(CASES, 2):
        assert_differ_only_in(f'{method}_acdc_{a}case.py',
                              f'{method}_acdc_{b}case.py', split_keys)
    for n in CASES:
        cfg = load(f'{method}_acdc_{n}case.py')
        assert cfg.train_dataloader.dataset.split == f'labeled_{n}case'
        for loader in ('unlabeled_dataloader', 'mix_dataloader'):
            assert cfg[loader].dataset.split == f'unlabeled_{n}case'
            # derived by the tools from the splits configured, never stale
            assert 'disjoint_with' not in cfg[loader].dataset
        assert 'labeled_split' not in cfg  # no variable that nothing reads


def test_ablations_are_the_four_combinations():
    aigc = load('aigcmatch_acdc_7case.py').model
    uni = load('unimatch_acdc_7case.py').model
    settings = {
        'AttCutMix': aigc.image_perturbation,
        'RandomCutMix': uni.image_perturbation,
        'AttFeaPerb': aigc.feature_perturbation,
        'RandomFeaPerb': uni.feature_perturbation,
    }
    assert set(ABLATIONS) == set(
        itertools.product(('AttCutMix', 'RandomCutMix'),
                          ('AttFeaPerb', 'RandomFeaPerb')))
    assert set(ABLATIONS.values()) == {
        c
        for c in CONFIGS if c.startswith('ablation')
    }
    for (image, feature), name in ABLATIONS.items():
        model = load(name).model
        # Same network in all four: only the perturbations vary (and the
        # attention source goes when nothing reads it).
        assert not model.decode_head.attention
        assert model.image_perturbation == settings[image]
        assert model.feature_perturbation == settings[feature]
        if (image, feature) != ('AttCutMix', 'AttFeaPerb'):
            unguided = (image, feature) == ('RandomCutMix', 'RandomFeaPerb')
            assert_differ_only_in(
                'aigcmatch_acdc_7case.py', name,
                ('model.image_perturbation', ) * (image != 'AttCutMix') +
                ('model.feature_perturbation', ) * (feature != 'AttFeaPerb') +
                ('model.attention_source', ) * unguided)
    assert not differing_keys(
        load('aigcmatch_acdc_7case.py'),
        load(ABLATIONS[('AttCutMix', 'AttFeaPerb')]))


@pytest.mark.parametrize('name, head_keys', [
    ('aigcmatch_mobilenetv2_acdc_7case.py',
     ('in_channels', 'in_index', 'channels')),
    # same widths as UNetEncoder's, deepest level first
    ('aigcmatch_mmsegunet_acdc_7case.py', ('in_index', )),
])
def test_backbone_swaps_change_only_backbone_and_head_levels(name, head_keys):
    assert_differ_only_in(
        'aigcmatch_acdc_7case.py', name,
        ('model.backbone', ) + tuple(f'model.decode_head.{k}'
                                     for k in head_keys))


def test_resnet18_config_swaps_only_the_backbone():
    assert_differ_only_in(
        'aigcmatch_acdc_7case.py', 'aigcmatch_resnet18_acdc_7case.py',
        ('model.backbone', 'model.decode_head.in_channels',
         'model.decode_head.in_index', 'model.decode_head.channels'))
    backbone = load('aigcmatch_resnet18_acdc_7case.py').model.backbone
    assert (backbone.type, backbone.depth,
            backbone.in_channels) == ('ResNetV1c', 18, 1)


def test_demo_configs():
    # The demo trains the 3-case methods themselves, on smaller data and a
    # shorter schedule. Only the loss scaling differs: the short demo keeps
    # SupBaseline's labeled weight (no /2) and ramps the unlabeled losses in.
    for method in ('aigcmatch', 'unimatch', 'fixmatch'):
        demo = load(f'demo/{method}_demo_3case.py')
        full = load(f'{method}_acdc_3case.py')
        assert demo.model.loss_normalizer == 1.0
        assert full.model.loss_normalizer == 2.0
        demo.model.loss_normalizer = full.model.loss_normalizer
        assert demo.model == full.model, method
        assert demo.train_dataloader.dataset.split == 'labeled_3case'
        assert demo.mix_dataloader.dataset.split == 'unlabeled_3case'
    demo = load('demo/aigcmatch_demo_3case.py')
    warmup = [h for h in demo.custom_hooks
              if h.type == 'UnsupWeightWarmupHook']
    assert warmup == [dict(type='UnsupWeightWarmupHook',
                           warmup_iters=demo.max_iters // 2)]
    for sup in ('supbaseline', 'supbaseline_att'):
        assert load(f'demo/{sup}_demo_3case.py').train_cfg.type == \
            'IterBasedTrainLoop'
    # SupBaseline has AIGCMatch's network; supbaseline_att the CBAM head
    assert load('demo/supbaseline_demo_3case.py').model.decode_head == \
        demo.model.decode_head
    assert load('demo/supbaseline_att_demo_3case.py').model.decode_head \
        .attention
    assert_differ_only_in(
        'demo/aigcmatch_demo_3case.py', 'demo/supbaseline_demo_3case.py',
        ('model.image_perturbation', 'model.feature_perturbation',
         'model.attention_source', 'model.loss_normalizer', 'train_cfg.type'))
    assert_differ_only_in('demo/aigcmatch_demo_3case.py',
                          'demo/aigcmatch_mixloader_demo_3case.py',
                          ('model.mix_source', ))


BENCHMARK = ('synthetic', 'colin27_aal')


@pytest.mark.parametrize('dataset', BENCHMARK)
def test_benchmark_runs_the_shipped_methods(dataset):
    # Same model as the ACDC config of the method; only data and schedule
    # are the benchmark's. The short schedule is the demo's: semi-supervised
    # methods keep SupBaseline's labeled weight and ramp the unlabeled
    # losses in over the first half.
    for method, acdc in (('supbaseline', 'supbaseline_acdc_3case.py'),
                         ('unimatch', 'unimatch_acdc_3case.py'),
                         ('aigcmatch', 'aigcmatch_acdc_3case.py'),
                         ('attcutmix_randomfp',
                          'ablation/attcutmix_random_acdc_7case.py'),
                         ('randomcutmix_attfp',
                          'ablation/random_attfeaperb_acdc_7case.py'),
                         ('randomcutmix_randomfp',
                          'ablation/random_random_acdc_7case.py')):
        cfg = load(f'benchmark/{dataset}/{method}.py')
        full = load(acdc)
        if method != 'supbaseline':
            assert (cfg.model.loss_normalizer,
                    full.model.loss_normalizer) == (1.0, 2.0), method
            cfg.model.loss_normalizer = full.model.loss_normalizer
        assert cfg.model == full.model, method
        assert cfg.train_cfg.type == full.train_cfg.type
        warmup = [h for h in cfg.custom_hooks
                  if h.type == 'UnsupWeightWarmupHook']
        assert warmup == [dict(type='UnsupWeightWarmupHook',
                               warmup_iters=cfg.max_iters // 2)], method
    sup_att = load(f'benchmark/{dataset}/supbaseline_att.py').model
    cbam = load(f'benchmark/{dataset}/aigcmatch_cbam.py').model
    assert sup_att.decode_head == cbam.decode_head
    assert cbam.decode_head.attention and 'attention_source' not in cbam


@pytest.mark.parametrize('dataset', ['synthetic', 'colin27_aal'])
@pytest.mark.parametrize('method', ['aigcmatch', 'unimatch'])
def test_benchmark_guard_configs_change_only_the_threshold(dataset, method):
    # the guard's paired comparison is only fair if nothing else moved
    guarded = f'benchmark/{dataset}/{method}_classthresh.py'
    assert_differ_only_in(guarded, f'benchmark/{dataset}/{method}.py',
                          ['model.conf_thresh'])
    assert load(guarded).model.conf_thresh == dict(
        type='ClassAdaptiveThreshold')


def test_benchmark_settings_differ_only_in_the_data():
    data_keys = ('data_root', 'metainfo') + tuple(
        f'{loader}.dataset' for loader in DATALOADER_KEYS)
    assert_differ_only_in('benchmark/synthetic/unimatch.py',
                          'benchmark/colin27_aal/unimatch.py', data_keys)


# --------------------------------------------------------------------- #
# bad input
# --------------------------------------------------------------------- #
@pytest.mark.parametrize('role, perturbation', [
    ('feature_perturbation', dict(type='AttFeaPerb')),
    ('image_perturbation', dict(type='AttCutMix')),
])
def test_attention_perturbation_on_a_head_without_attention(
        role, perturbation, tmp_path):
    cfg = load('unimatch_acdc_3case.py')
    cfg.model[role] = perturbation
    cfg.work_dir = str(tmp_path)
    with pytest.raises(
            ValueError,
            match=f'{role} {perturbation["type"]} is guided by attention, '
            r'but there is no attention_source and decode_head AttUNetHead '
            r'does not provide attention \(set attention_source'):
        Runner.from_cfg(cfg)


def test_the_model_names_the_strong_views_the_pipelines_pack():
    from projects.aigcmatch.utils import UserError
    from projects.aigcmatch.utils.data_checks import derive_strong_views

    def packers(cfg):
        return [t for key in ('unlabeled_dataloader', 'mix_dataloader')
                for t in cfg[key].dataset.pipeline
                if t.type == 'PackMultiViewInputs']

    for name, views in (('fixmatch_acdc_3case.py', ['strong1']),
                        ('unimatch_acdc_3case.py', ['strong1', 'strong2']),
                        ('demo/fixmatch_demo_3case.py', ['strong1']),
                        ('benchmark/synthetic/aigcmatch.py',
                         ['strong1', 'strong2'])):
        cfg = load(name)
        # one source: no config writes the views into a pipeline
        assert all('strong_views' not in t for t in packers(cfg)), name
        derive_strong_views(cfg)
        assert [t.strong_views for t in packers(cfg)] == [views] * 2, name
    cfg = load('fixmatch_acdc_3case.py')
    cfg.unlabeled_dataloader.dataset.pipeline[-1].strong_views = [
        'strong1', 'strong2']
    with pytest.raises(UserError, match=r"unlabeled_dataloader\.dataset\."
                       r"pipeline\[\d\] \(PackMultiViewInputs\) packs "
                       r"strong_views \['strong1', 'strong2'\] but model\."
                       r"strong_views is \['strong1'\]"):
        derive_strong_views(cfg)
