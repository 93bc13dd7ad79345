# FixMatch in this framework: one strong view with random CutMix, no feature perturbation, plain UNet;
# loss = (loss_x + loss_s1) / 2.
_base_ = ['../models/aigcmatch_unet.py']

model = dict(
    decode_head=dict(attention=False),
    image_perturbation=dict(type='RandomCutMix', prob=0.5, area_range=(0.02, 0.4), aspect_range=(0.3, 1 / 0.3)),
    strong_views=('strong1', ),
    loss_weights=dict(labeled=1.0, strong=1.0, fp=0.0))
