# Backbone swap: AIGCMatch with mmseg's MobileNetV2 (4 levels at 1/4..1/32), whose stem takes 3 channels:
# ChannelAdapter repeats the 1-channel slice (for ImageNet weights add init_cfg=dict(type='Pretrained',
# checkpoint=...) to the inner backbone, and ImageNet's mean/std to the adapter). The UNet head
# adapts to the levels it is given; the logits are upsampled to the input size.
_base_ = [
    './_base_/methods/aigcmatch.py', './_base_/splits/acdc_7case.py', './_base_/schedules/acdc_30k.py',
    './_base_/default_runtime.py'
]

model = dict(
    backbone=dict(
        _delete_=True,
        type='ChannelAdapter',
        in_channels=1,
        out_channels=3,
        mode='repeat',
        backbone=dict(
            type='MobileNetV2',
            widen_factor=1.0,
            strides=(1, 2, 2, 2, 1, 2, 1),
            out_indices=(1, 2, 4, 6),
            norm_cfg={{_base_.norm_cfg}})),
    decode_head=dict(in_channels=[24, 32, 96, 320], in_index=[0, 1, 2, 3], channels=24))
