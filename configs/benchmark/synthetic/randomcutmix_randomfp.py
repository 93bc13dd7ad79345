# randomcutmix_randomfp on the benchmark's synthetic setting (docs/benchmark.md).
_base_ = ['../../_base_/methods/randomcutmix_randomfp.py', '../_base_/synthetic.py']
