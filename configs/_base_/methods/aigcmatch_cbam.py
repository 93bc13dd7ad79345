# AIGCMatch as the paper's figure draws it: attention from CBAM modules in the decoder (AttUNetHead
# with attention=True; HeadAttention, the default source when the head has attention). On the
# benchmark this head cost SupBaseline accuracy and its maps stayed near uniform (docs/method.md);
# kept for comparison, with supbaseline_att.py as its same-network supervised reference.
_base_ = ['../models/aigcmatch_unet.py']

model = dict(
    decode_head=dict(attention=True),
    image_perturbation=dict(
        type='AttCutMix', prob=0.5, area_range=(0.02, 0.4), aspect_range=(0.3, 1 / 0.3), tau=None,
        lambda_target=0.0),
    feature_perturbation=dict(type='AttFeaPerb', ratio=0.5, p_strong=0.3, p_weak=0.7))
