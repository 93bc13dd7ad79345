# Ablation (7 cases): AttCutMix x AttFeaPerb. All four ablations use the attention UNet head,
# so only the perturbations differ. Selected on val, reported on test.
_base_ = [
    '../_base_/datasets/acdc_semi.py', '../_base_/models/aigcmatch_unet.py',
    '../_base_/schedules/acdc_30k.py', '../_base_/default_runtime.py'
]

# 7 labeled patients: all slices of both frames (see projects/aigcmatch/datasets/splits/acdc/)
labeled_split = 'labeled_7case'
unlabeled_split = 'unlabeled_7case'
train_dataloader = dict(dataset=dict(split='labeled_7case'))
unlabeled_dataloader = dict(dataset=dict(split='unlabeled_7case'))

model = dict(
    image_perturbation=dict(type='AttCutMix', prob=0.5, area_range=(0.02, 0.4), aspect_range=(0.3, 1 / 0.3), tau=None, lambda_target=0.0),
    feature_perturbation=dict(type='AttFeaPerb', ratio=0.5, p_strong=0.3, p_weak=0.7))
