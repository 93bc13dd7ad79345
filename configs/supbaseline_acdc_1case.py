# SupBaseline: the labeled loss only, (CE + Dice) / 2, on the plain UNet; same labeled data,
# iterations and schedule as the semi-supervised configs.
# ACDC, 1 labeled case; selected on val, reported on test (docs/protocol.md).
_base_ = [
    './_base_/methods/supbaseline.py', './_base_/splits/acdc_1case.py', './_base_/schedules/acdc_30k.py',
    './_base_/default_runtime.py'
]

train_cfg = dict(type='IterBasedTrainLoop')  # labeled batches only
