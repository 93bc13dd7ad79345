# randomcutmix_attfp on the benchmark's synthetic setting (docs/benchmark.md).
_base_ = ['../../_base_/methods/randomcutmix_attfp.py', '../_base_/synthetic.py']

