# SupBaseline on the CBAM attention head (attention=True): the same-network supervised reference for
# aigcmatch_cbam.py (the paper's attention modules). Labeled loss only; a leaf sets train_cfg = dict(type='IterBasedTrainLoop').
_base_ = ['../models/aigcmatch_unet.py']

model = dict(decode_head=dict(attention=True))
