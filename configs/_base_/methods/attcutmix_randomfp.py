# Ablation: AttCutMix with UniMatch's random feature perturbation (Dropout2d(0.5)), attention UNet.
_base_ = ['../models/aigcmatch_unet.py']

model = dict(
    decode_head=dict(attention=True),
    image_perturbation=dict(
        type='AttCutMix', prob=0.5, area_range=(0.02, 0.4), aspect_range=(0.3, 1 / 0.3), tau=None,
        lambda_target=0.0),
    feature_perturbation=dict(type='RandomFeaPerb', p=0.5))
