# Ablation: both perturbations random (UniMatch's), on AIGCMatch's network and step (partner from the
# batch, BN running statistics from the clean pass), so that only the attention guidance differs from AIGCMatch.
_base_ = ['./aigcmatch.py']

model = dict(
    attention_source=None,
    image_perturbation=dict(
        _delete_=True, type='RandomCutMix', prob=0.5, area_range=(0.02, 0.4), aspect_range=(0.3, 1 / 0.3)),
    feature_perturbation=dict(_delete_=True, type='RandomFeaPerb', p=0.5))
