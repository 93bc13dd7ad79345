# Ablation: both perturbations random (UniMatch's), on AIGCMatch's attention UNet and step
# (partner from the batch, separate FP pass), so that only the guidance differs from AIGCMatch.
_base_ = ['../models/aigcmatch_unet.py']

model = dict(
    decode_head=dict(attention=True),
    image_perturbation=dict(type='RandomCutMix', prob=0.5, area_range=(0.02, 0.4), aspect_range=(0.3, 1 / 0.3)),
    feature_perturbation=dict(type='RandomFeaPerb', p=0.5))
