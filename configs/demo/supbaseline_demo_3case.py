# SupBaseline counterpart of the CPU demo: the same labeled data, model, iterations and seed, no
# unlabeled data (labeled loss only, plain UNet head). Compare with aigcmatch_demo_3case.py.
_base_ = ['./aigcmatch_demo_3case.py']

model = dict(
    decode_head=dict(attention=False),
    image_perturbation=None,
    feature_perturbation=None)
train_cfg = dict(type='IterBasedTrainLoop')
custom_hooks = [
    dict(type='SafeCheckpointHook'),
    dict(type='RandomStateHook'),
    dict(type='NonFiniteLossHook'),
]
