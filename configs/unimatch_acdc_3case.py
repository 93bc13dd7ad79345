# UniMatch as its medical code trains it (details in configs/_base_/methods/unimatch.py).
# ACDC, 3 labeled cases; selected on val, reported on test (docs/protocol.md).
_base_ = [
    './_base_/methods/unimatch.py', './_base_/splits/acdc_3case.py', './_base_/schedules/acdc_30k.py',
    './_base_/default_runtime.py'
]
