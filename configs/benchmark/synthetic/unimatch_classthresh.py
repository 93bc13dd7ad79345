# unimatch with per-class thresholds that follow the model's confidence in each class
# (ClassAdaptiveThreshold) on the benchmark's synthetic setting (docs/benchmark.md).
_base_ = ['../../_base_/methods/unimatch.py', '../_base_/synthetic.py']

model = dict(
    loss_normalizer=1.0,  # short schedule: the labeled loss weighs as SupBaseline's (see the base)
    conf_thresh=dict(_delete_=True, type='ClassAdaptiveThreshold'))
