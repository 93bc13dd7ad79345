# FixMatch: one strong view with random CutMix, no feature perturbation, plain UNet.
# loss = (loss_x + loss_s1) / 2
# ACDC, 7 labeled cases; selected on val, reported on test (DESIGN.md §4).
_base_ = [
    './_base_/datasets/acdc_semi.py', './_base_/models/aigcmatch_unet.py',
    './_base_/schedules/acdc_30k.py', './_base_/default_runtime.py'
]

# 7 labeled patients: all slices of both frames (see projects/aigcmatch/datasets/splits/acdc/)
labeled_split = 'labeled_7case'
unlabeled_split = 'unlabeled_7case'
train_dataloader = dict(dataset=dict(split='labeled_7case'))
unlabeled_dataloader = dict(dataset=dict(split='unlabeled_7case'))

model = dict(
    decode_head=dict(attention=False),
    image_perturbation=dict(type='RandomCutMix', prob=0.5, area_range=(0.02, 0.4), aspect_range=(0.3, 1 / 0.3)),
    feature_perturbation=None,
    strong_views=('strong1', ),
    loss_weights=dict(labeled=1.0, strong=1.0, fp=0.0))
