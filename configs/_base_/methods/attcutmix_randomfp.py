# Ablation: AIGCMatch's AttCutMix with UniMatch's random feature perturbation (Dropout2d(0.5)):
# AIGCMatch with its feature-level guidance taken away.
_base_ = ['./aigcmatch.py']

model = dict(feature_perturbation=dict(_delete_=True, type='RandomFeaPerb', p=0.5))
