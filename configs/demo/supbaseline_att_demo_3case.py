# SupBaseline counterpart of the CPU demo: the same labeled data, iterations and seed, no unlabeled
# data (labeled loss only), attention UNet head (AIGCMatch's network: the fair reference for AIGCMatch).
_base_ = ['../_base_/methods/supbaseline_att.py', './_base_/demo_3case.py']

train_cfg = dict(type='IterBasedTrainLoop')  # labeled batches only
