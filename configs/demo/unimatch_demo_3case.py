# UniMatch counterpart of the CPU demo: random CutMix + Dropout2d(0.5) feature perturbation on a
# plain UNet head; same data, iterations and seed as aigcmatch_demo_3case.py.
_base_ = ['./aigcmatch_demo_3case.py']

model = dict(
    decode_head=dict(attention=False),
    image_perturbation=dict(
        _delete_=True,
        type='RandomCutMix',
        prob=0.5,
        area_range=(0.02, 0.4),
        aspect_range=(0.3, 1 / 0.3)),
    feature_perturbation=dict(_delete_=True, type='RandomFeaPerb', p=0.5))
