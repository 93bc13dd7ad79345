# ACDC with 7 labeled patient(s), both frames (projects/aigcmatch/datasets/splits/acdc/): the labeled
# split and the unlabeled rest of train, for the weak/strong views and for CutMix partners drawn from a
# second loader; checked at build time to share no patient with the labeled, val and test splits.
_base_ = ['../datasets/acdc_semi.py']

train_dataloader = dict(dataset=dict(split='labeled_7case'))
unlabeled_dataloader = dict(
    dataset=dict(split='unlabeled_7case', disjoint_with=['labeled_7case', 'val', 'test']))
mix_dataloader = dict(
    dataset=dict(split='unlabeled_7case', disjoint_with=['labeled_7case', 'val', 'test']))
