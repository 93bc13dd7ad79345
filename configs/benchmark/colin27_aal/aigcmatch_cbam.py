# aigcmatch_cbam on the benchmark's colin27_aal setting (docs/benchmark.md).
_base_ = ['../../_base_/methods/aigcmatch_cbam.py', '../_base_/colin27_aal.py']
