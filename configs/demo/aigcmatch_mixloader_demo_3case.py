# AIGCMatch demo with UniMatch's way of finding CutMix partners: a second unlabeled loader whose
# images get their own no-grad eval-mode pass (mix_source='loader'), instead of another image of
# the same batch (the default, no extra pass). Used for the comparison in docs/design_decisions.md.
_base_ = ['./aigcmatch_demo_3case.py']

model = dict(mix_source='loader')
mix_dataloader = dict(
    batch_size={{_base_.batch_size}},
    num_workers={{_base_.num_workers}},
    persistent_workers=True,
    sampler=dict(type='ResumableInfiniteSampler', shuffle=True),
    dataset=dict(
        type='ACDCDataset',
        data_root={{_base_.data_root}},
        split='unlabeled_3case',
        mode='unlabeled',
        pipeline={{_base_.unlabeled_pipeline}}))
