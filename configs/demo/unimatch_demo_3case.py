# UniMatch counterpart of the CPU demo: the same data, iterations and seed as aigcmatch_demo_3case.py.
_base_ = ['../_base_/methods/unimatch.py', './_base_/demo_3case.py']

# Short schedule: the labeled loss keeps SupBaseline's weight (UniMatch's /2 would halve it) and the
# unlabeled losses ramp in over the first half (UnsupWeightWarmupHook of the demo base); measured in
# docs/design_decisions.md.
model = dict(loss_normalizer=1.0)
