# supbaseline_att on the benchmark's synthetic setting (docs/benchmark.md).
_base_ = ['../../_base_/methods/supbaseline_att.py', '../_base_/synthetic.py']

train_cfg = dict(type='IterBasedTrainLoop')  # labeled batches only
