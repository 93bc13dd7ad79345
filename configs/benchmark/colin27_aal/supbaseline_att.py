# supbaseline_att on the benchmark's colin27_aal setting (docs/benchmark.md).
_base_ = ['../../_base_/methods/supbaseline_att.py', '../_base_/colin27_aal.py']

train_cfg = dict(type='IterBasedTrainLoop')  # labeled batches only
