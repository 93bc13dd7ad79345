# Ablation: UniMatch's random CutMix with AttFeaPerb, attention UNet.
_base_ = ['../models/aigcmatch_unet.py']

model = dict(
    decode_head=dict(attention=True),
    image_perturbation=dict(type='RandomCutMix', prob=0.5, area_range=(0.02, 0.4), aspect_range=(0.3, 1 / 0.3)),
    feature_perturbation=dict(type='AttFeaPerb', ratio=0.5, p_strong=0.3, p_weak=0.7))
