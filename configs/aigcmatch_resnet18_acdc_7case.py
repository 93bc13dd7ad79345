# Backbone swap: AIGCMatch with mmseg's ResNetV1c-18 (1 input channel, 4 levels at 1/4..1/32)
# instead of the UNet encoder; the UNet head adapts to the levels it is given.
# No ImageNet weights (1-channel MRI); the logits are upsampled to the input size.
_base_ = [
    './_base_/methods/aigcmatch.py', './_base_/splits/acdc_7case.py', './_base_/schedules/acdc_30k.py',
    './_base_/default_runtime.py'
]

model = dict(
    backbone=dict(
        _delete_=True,
        type='ResNetV1c',
        depth=18,
        in_channels=1,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        dilations=(1, 1, 1, 1),
        strides=(1, 2, 2, 2),
        norm_cfg={{_base_.norm_cfg}},
        norm_eval=False,
        contract_dilation=True),
    decode_head=dict(in_channels=[64, 128, 256, 512], in_index=[0, 1, 2, 3], channels=64))
