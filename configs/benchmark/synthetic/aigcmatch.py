# aigcmatch on the benchmark's synthetic setting (docs/benchmark.md).
_base_ = ['../../_base_/methods/aigcmatch.py', '../_base_/synthetic.py']

