# aigcmatch_cbam on the benchmark's synthetic setting (docs/benchmark.md).
_base_ = ['../../_base_/methods/aigcmatch_cbam.py', '../_base_/synthetic.py']
