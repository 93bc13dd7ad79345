# ACDC with 1 labeled patient(s), both frames (projects/aigcmatch/datasets/splits/acdc/): the labeled
# split and the unlabeled rest of train, for the weak/strong views and for CutMix partners drawn from a
# second loader. No `disjoint_with`: tools/train.py and tools/test.py derive it from the labeled, val and
# test splits configured (after --cfg-options), so an override cannot leave it stale.
_base_ = ['../datasets/acdc_semi.py']

train_dataloader = dict(dataset=dict(split='labeled_1case'))
unlabeled_dataloader = dict(dataset=dict(split='unlabeled_1case'))
mix_dataloader = dict(dataset=dict(split='unlabeled_1case'))
