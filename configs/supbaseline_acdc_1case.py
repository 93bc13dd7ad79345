# SupBaseline: the labeled loss only, (CE + Dice) / 2, on a plain UNet; same labeled data,
# iterations and schedule as the semi-supervised configs.
# ACDC, 1 labeled case; selected on val, reported on test (DESIGN.md §4).
_base_ = [
    './_base_/datasets/acdc_semi.py', './_base_/models/aigcmatch_unet.py',
    './_base_/schedules/acdc_30k.py', './_base_/default_runtime.py'
]

# 1 labeled patient: all slices of both frames (see projects/aigcmatch/datasets/splits/acdc/)
labeled_split = 'labeled_1case'
unlabeled_split = 'unlabeled_1case'
train_dataloader = dict(dataset=dict(split='labeled_1case'))
unlabeled_dataloader = dict(dataset=dict(split='unlabeled_1case'))

model = dict(decode_head=dict(attention=False))
train_cfg = dict(type='IterBasedTrainLoop')
