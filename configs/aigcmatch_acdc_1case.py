# AIGCMatch: AttCutMix (image level) + AttFeaPerb (feature level), guided by the weak view's prediction.
# ACDC, 1 labeled case; selected on val, reported on test (docs/protocol.md).
_base_ = [
    './_base_/methods/aigcmatch.py', './_base_/splits/acdc_1case.py', './_base_/schedules/acdc_30k.py',
    './_base_/default_runtime.py'
]
