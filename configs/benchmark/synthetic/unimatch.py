# unimatch on the benchmark's synthetic setting (docs/benchmark.md).
_base_ = ['../../_base_/methods/unimatch.py', '../_base_/synthetic.py']

