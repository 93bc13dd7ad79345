# AIGCMatch: AttCutMix (image level) + AttFeaPerb (feature level), guided by attention read off the
# weak view's clean prediction (PredictionAttention: 1 - p(background); channel weights from the
# features under that map), on the plain UNet - the same network as SupBaseline and UniMatch.
# AttCutMix takes the box from the partner's most attended region and pastes it on the target's least
# attended region (paste='target_least'), so both images' anatomy stays whole.
# docs/method.md lists every reading and what it measured (docs/benchmark.md).
_base_ = ['../models/aigcmatch_unet.py']

model = dict(
    decode_head=dict(attention=False),
    attention_source=dict(type='PredictionAttention'),
    image_perturbation=dict(
        type='AttCutMix', prob=0.5, area_range=(0.02, 0.4), aspect_range=(0.3, 1 / 0.3), tau=None,
        lambda_target=0.0, paste='target_least'),
    feature_perturbation=dict(type='AttFeaPerb', ratio=0.5, p_strong=0.3, p_weak=0.7))
