# UniMatch as its medical code trains: plain UNet, random CutMix whose partners come from a second
# unlabeled loader predicted in eval mode, Dropout2d(0.5) on every encoder level decoded in the same
# pass as the clean features, every pass updating the BN running statistics.
# The remaining differences from UniMatch's code are listed in docs/method.md.
_base_ = ['../models/aigcmatch_unet.py']

model = dict(
    decode_head=dict(attention=False),
    image_perturbation=dict(type='RandomCutMix', prob=0.5, area_range=(0.02, 0.4), aspect_range=(0.3, 1 / 0.3)),
    feature_perturbation=dict(type='RandomFeaPerb', p=0.5),
    mix_source='loader',
    fp_decode='joint',
    bn_stats='all')
