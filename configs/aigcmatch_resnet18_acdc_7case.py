# Backbone swap: AIGCMatch with mmseg's ResNetV1c-18 (1 input channel, 4 levels at 1/4..1/32)
# instead of the UNet encoder; the attention UNet head adapts to the levels it is given.
# No ImageNet weights (1-channel MRI); the logits are upsampled to the input size.
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
    backbone=dict(
        _delete_=True,
        type='ResNetV1c',
        depth=18,
        in_channels=1,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        dilations=(1, 1, 1, 1),
        strides=(1, 2, 2, 2),
        norm_cfg={{_base_.norm_cfg}},
        norm_eval=False,
        contract_dilation=True),
    decode_head=dict(in_channels=[64, 128, 256, 512], in_index=[0, 1, 2, 3], channels=64),
    image_perturbation=dict(
        type='AttCutMix',
        prob=0.5,
        area_range=(0.02, 0.4),
        aspect_range=(0.3, 1 / 0.3),
        tau=None,
        lambda_target=0.0),
    feature_perturbation=dict(
        type='AttFeaPerb', ratio=0.5, p_strong=0.3, p_weak=0.7))
