# SupBaseline: the labeled loss only, (CE + Dice) / 2, on the plain UNet (UniMatch's network).
# A leaf trains it with train_cfg = dict(type='IterBasedTrainLoop') (labeled batches only).
_base_ = ['../models/aigcmatch_unet.py']

model = dict(decode_head=dict(attention=False))
