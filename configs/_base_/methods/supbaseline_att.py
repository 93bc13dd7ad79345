# SupBaseline on AIGCMatch's network (the attention head): the fair supervised reference for every
# method that uses that head. Labeled loss only; a leaf sets train_cfg = dict(type='IterBasedTrainLoop').
_base_ = ['../models/aigcmatch_unet.py']

model = dict(decode_head=dict(attention=True))
