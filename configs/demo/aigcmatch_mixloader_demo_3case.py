# AIGCMatch demo with UniMatch's way of finding CutMix partners: a second unlabeled loader whose
# images get their own no-grad eval-mode pass (mix_source='loader'), instead of another image of
# the same batch (the default, no extra pass). Used for the comparison in docs/design_decisions.md.
_base_ = ['../_base_/methods/aigcmatch.py', './_base_/demo_3case.py']

# Short schedule: the labeled loss keeps SupBaseline's weight (UniMatch's /2 would halve it) and the
# unlabeled losses ramp in over the first half (UnsupWeightWarmupHook of the demo base); measured in
# docs/design_decisions.md.
model = dict(loss_normalizer=1.0, mix_source='loader')
