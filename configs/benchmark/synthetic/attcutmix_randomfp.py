# attcutmix_randomfp on the benchmark's synthetic setting (docs/benchmark.md).
_base_ = ['../../_base_/methods/attcutmix_randomfp.py', '../_base_/synthetic.py']

model = dict(loss_normalizer=1.0)  # short schedule: the labeled loss weighs as SupBaseline's (see the base)
