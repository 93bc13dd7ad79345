# SupBaseline with the CBAM attention head (attention=True, the network of _base_/methods/aigcmatch_cbam.py)
# on the CPU demo's data: labeled loss only. Shows what that head costs against supbaseline_demo_3case.py.
_base_ = ['../_base_/methods/supbaseline_att.py', './_base_/demo_3case.py']

train_cfg = dict(type='IterBasedTrainLoop')  # labeled batches only
