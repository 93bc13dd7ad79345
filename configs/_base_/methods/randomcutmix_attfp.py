# Ablation: UniMatch's random CutMix with AIGCMatch's AttFeaPerb: AIGCMatch with its image-level
# guidance taken away.
_base_ = ['./aigcmatch.py']

model = dict(
    image_perturbation=dict(
        _delete_=True, type='RandomCutMix', prob=0.5, area_range=(0.02, 0.4), aspect_range=(0.3, 1 / 0.3)))
