# Backbone swap: AIGCMatch with mmseg's own UNet backbone (encoder + decoder, 1 input channel), whose outputs
# list the deepest level first: the head decodes them highest resolution first (in_index=[4, 3, 2, 1, 0]),
# and the attention-guided perturbations follow that in_index (AttFeaPerb pairs each level's channel attention
# with the backbone output it came from).
_base_ = [
    './_base_/methods/aigcmatch.py', './_base_/splits/acdc_7case.py', './_base_/schedules/acdc_30k.py',
    './_base_/default_runtime.py'
]

model = dict(
    backbone=dict(
        _delete_=True,
        type='UNet',
        in_channels=1,
        base_channels=16,
        num_stages=5,
        strides=(1, 1, 1, 1, 1),
        enc_num_convs=(2, 2, 2, 2, 2),
        dec_num_convs=(2, 2, 2, 2),
        downsamples=(True, True, True, True),
        enc_dilations=(1, 1, 1, 1, 1),
        dec_dilations=(1, 1, 1, 1),
        norm_cfg={{_base_.norm_cfg}},
        act_cfg=dict(type='ReLU'),
        upsample_cfg=dict(type='InterpConv'),
        norm_eval=False),
    decode_head=dict(in_channels=[16, 32, 64, 128, 256], in_index=[4, 3, 2, 1, 0], channels=16))
