# ACDC in the SSL4MIS/UniMatch layout, semi-supervised: a labeled loader, an
# unlabeled multi-view loader, and per-slice val/test loaders of whole volumes.
# Point `data_root` elsewhere with `--cfg-options data_root=/path/to/ACDC` (the runner re-points every dataset).
# The training loaders' batch_size is the batch of one step over ALL processes (UniMatch's protocol: 12 labeled
# + 12 unlabeled): N processes (dist_train.sh CONFIG N) load batch_size / N each, N must divide it.
# 'per_process' would be mmengine's meaning (N processes train N x batch_size per step).
batch_size_scope = 'total'
dataset_type = 'ACDCDataset'
data_root = 'data/ACDC'
crop_size = (256, 256)  # (h, w) as in mmseg; mmcv's Resize takes (w, h)

meta_keys = ('img_path', 'ori_shape', 'img_shape', 'scale_factor', 'case_id',
             'slice_idx', 'num_slices', 'spacing')

# Weak view: UniMatch's geometry, then nearest resize of image and label.
weak_transforms = [
    dict(
        type='RandomRotFlipOrRotate',
        rotflip_prob=0.5,
        rotate_prob=0.5,
        degree=(-20, 20),
        interpolation='nearest'),
    dict(
        type='Resize',
        scale=(crop_size[1], crop_size[0]),
        keep_ratio=False,
        interpolation='nearest'),
]
# Strong views: the weak geometry plus independent photometric draws.
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
    dict(
        type='PackMultiViewInputs',
        strong_pipeline=strong_pipeline,
        # strong_views: the model's (model.strong_views), set by tools/train.py
        weak_view='weak',
        meta_keys=meta_keys),
]
# The slice is resized for the model (bilinear, as UniMatch evaluates); the
# label is loaded after the resize so it keeps the slice's original size.
test_pipeline = [
    dict(type='LoadH5Image'),
    dict(
        type='Resize',
        scale=(crop_size[1], crop_size[0]),
        keep_ratio=False,
        interpolation='bilinear'),
    dict(type='LoadH5Annotations'),
    dict(type='PackSegInputs', meta_keys=meta_keys),
]

# Test-time augmentation (tools/test.py --tta, and mmseg's own tools/test.py --tta): the model predicts the
# slice as it is, flipped left-right and flipped up-down; mmseg's SegTTAModel flips the logits back and
# averages the softmax. The label is loaded unflipped, after the flips.
tta_model = dict(type='SegTTAModel')
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

train_dataloader = dict(
    batch_size=12,
    num_workers=2,
    persistent_workers=True,
    pin_memory=True,  # page-locked batches: faster host-to-GPU copies (the tools turn it off without CUDA)
    sampler=dict(type='ResumableInfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='labeled_7case',
        mode='labeled',
        pipeline=train_pipeline))
unlabeled_dataloader = dict(
    train_dataloader,
    dataset=dict(
        train_dataloader['dataset'],
        split='unlabeled_7case',
        mode='unlabeled',
        # No `disjoint_with`: tools/train.py and tools/test.py derive it from the labeled, val and
        # test splits configured (after --cfg-options), so an override cannot leave it stale.
        pipeline=unlabeled_pipeline))
# CutMix partners from a second unlabeled stream (its own seed), for models with mix_source='loader'
# (UniMatch's way); the training loop builds it only for such a model.
mix_dataloader = unlabeled_dataloader
# Evaluation: the same loader settings, one whole volume (patient x frame) at a time, in order.
val_dataloader = dict(
    train_dataloader,
    batch_size=1,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(train_dataloader['dataset'], split='val', mode='volume', pipeline=test_pipeline))
test_dataloader = dict(val_dataloader, dataset=dict(val_dataloader['dataset'], split='test'))
val_evaluator = dict(type='MedicalMetric')
test_evaluator = val_evaluator
