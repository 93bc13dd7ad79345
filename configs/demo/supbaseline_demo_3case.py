# SupBaseline counterpart of the CPU demo: the same labeled data, iterations and seed, no unlabeled
# data (labeled loss only), plain UNet head (the reference for UniMatch and FixMatch).
_base_ = ['../_base_/methods/supbaseline.py', './_base_/demo_3case.py']

train_cfg = dict(type='IterBasedTrainLoop')  # labeled batches only
