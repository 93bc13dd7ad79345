# The method benchmark's synthetic setting (tools/benchmark_methods.py, docs/benchmark.md): the demo's
# synthetic ACDC-like set (tools/generate_demo_data.py), 3 labeled patients, at crop 64 with batch 4 + 4
# so that every method x seed fits the benchmark's CPU budget. Selected on val, reported on test.
_base_ = [
    '../../_base_/splits/acdc_3case.py', '../../_base_/schedules/acdc_30k.py',
    '../../_base_/default_runtime.py'
]

data_root = 'data/demo_acdc'
crop_size = (64, 64)
max_iters = 400
batch_size = 4

meta_keys = ('img_path', 'ori_shape', 'img_shape', 'scale_factor', 'case_id',
             'slice_idx', 'num_slices', 'spacing')
weak_transforms = [
    dict(type='RandomRotFlipOrRotate', rotflip_prob=0.5, rotate_prob=0.5,
         degree=(-20, 20), interpolation='nearest'),
    dict(type='Resize', scale=(crop_size[1], crop_size[0]), keep_ratio=False,
         interpolation='nearest'),
]
strong_pipeline = [
    dict(type='GrayscaleColorJitter', brightness=0.5, contrast=0.5, prob=0.8),
    dict(type='RandomGaussianBlur', sigma=(0.1, 2.0), prob=0.5),
]
train_pipeline = [
    dict(type='LoadH5Image'),
    dict(type='LoadH5Annotations'),
    *weak_transforms,
    dict(type='PackSegInputs', meta_keys=meta_keys),
]
unlabeled_pipeline = [
    dict(type='LoadH5Image'),
    *weak_transforms,
    dict(type='PackMultiViewInputs', strong_pipeline=strong_pipeline,
         weak_view='weak',  # strong_views: the model's, set by tools/train.py
         meta_keys=meta_keys),
]
test_pipeline = [
    dict(type='LoadH5Image'),
    dict(type='Resize', scale=(crop_size[1], crop_size[0]), keep_ratio=False,
         interpolation='bilinear'),
    dict(type='LoadH5Annotations'),
    dict(type='PackSegInputs', meta_keys=meta_keys),
]
# flips at this crop (see configs/_base_/datasets/acdc_semi.py)
tta_pipeline = [
    dict(type='LoadH5Image'),
    dict(
        type='TestTimeAug',
        transforms=[
            [dict(type='Resize', scale=(crop_size[1], crop_size[0]), keep_ratio=False, interpolation='bilinear')],
            [
                dict(type='RandomFlip', prob=0.0, direction='horizontal'),
                dict(type='RandomFlip', prob=1.0, direction='horizontal'),
                dict(type='RandomFlip', prob=1.0, direction='vertical'),
            ],
            [dict(type='LoadH5Annotations')],
            [dict(type='PackSegInputs', meta_keys=meta_keys + ('flip', 'flip_direction'))],
        ])
]

# One process per run and one thread each: no loader workers competing for the cores.
train_dataloader = dict(
    batch_size=batch_size, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
unlabeled_dataloader = dict(
    batch_size=batch_size, num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=unlabeled_pipeline))
mix_dataloader = unlabeled_dataloader
val_dataloader = dict(
    num_workers=0, persistent_workers=False, dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader

auto_scale_lr = dict(base_batch_size=batch_size)  # the lr (0.01) is for 4 labeled per step
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=max_iters, by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=50)
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(interval=max_iters, max_keep_ckpts=1),
    visualization=dict(interval=10**9))
randomness = dict(seed=0)
# Short schedule (as the demo's): the unlabeled losses ramp in over the first half of the run (sigmoid,
# UnsupWeightWarmupHook; a no-op for SupBaseline), and every semi-supervised leaf sets loss_normalizer=1.0
# so that its labeled loss weighs what SupBaseline's does. Measured in docs/benchmark.md.
custom_hooks = [
    dict(type='SafeCheckpointHook'),
    dict(type='RandomStateHook'),
    dict(type='NonFiniteLossHook'),
    dict(type='UnsupWeightWarmupHook', warmup_iters=max_iters // 2),
]
