# UniMatch: random CutMix + Dropout2d(0.5) feature perturbation on a plain UNet (no attention).
# ACDC, 3 labeled cases; selected on val, reported on test (DESIGN.md §4).
_base_ = [
    './_base_/datasets/acdc_semi.py', './_base_/models/aigcmatch_unet.py',
    './_base_/schedules/acdc_30k.py', './_base_/default_runtime.py'
]

# 3 labeled patients: all slices of both frames (see projects/aigcmatch/datasets/splits/acdc/)
labeled_split = 'labeled_3case'
unlabeled_split = 'unlabeled_3case'
train_dataloader = dict(dataset=dict(split='labeled_3case'))
unlabeled_dataloader = dict(dataset=dict(split='unlabeled_3case'))

model = dict(
    decode_head=dict(attention=False),
    image_perturbation=dict(type='RandomCutMix', prob=0.5, area_range=(0.02, 0.4), aspect_range=(0.3, 1 / 0.3)),
    feature_perturbation=dict(type='RandomFeaPerb', p=0.5))
