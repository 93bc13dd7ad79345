# Ablation (7 cases): AttCutMix x RandomFeaPerb. All four ablations use AIGCMatch's network (plain UNet) and step,
# so only the perturbations differ. Selected on val, reported on test.
_base_ = [
    '../_base_/methods/attcutmix_randomfp.py', '../_base_/splits/acdc_7case.py', '../_base_/schedules/acdc_30k.py',
    '../_base_/default_runtime.py'
]
