"""The checks and builders behind ``WeakToStrongSegmentor``'s constructor.

The allowed values of its string options, the loss weights, the attention
source its perturbations read, the combinations of options that cannot work
together, and the branch batch sizes the training loop must deliver. Each
check raises ``ValueError`` with a message that names the option and what to
set instead.
"""
from typing import Dict, Optional

from mmseg.registry import MODELS
from mmseg.utils import OptConfigType
from torch import nn

MIX_SOURCES = ('batch', 'loader')
FP_DECODES = ('separate', 'joint')
BN_STATS = ('clean', 'all')
PSEUDO_LABEL_PASSES = ('student', 'eval')
CONV_INITS = ('kaiming', 'pytorch')


def check_choices(pseudo_label_pass: str, mix_source: str, fp_decode: str,
                  bn_stats: str, conv_init: str) -> None:
    """Each string option is one of its allowed values."""
    for name, value, choices in (
        ('pseudo_label_pass', pseudo_label_pass, PSEUDO_LABEL_PASSES),
        ('mix_source', mix_source, MIX_SOURCES),
        ('fp_decode', fp_decode, FP_DECODES),
        ('bn_stats', bn_stats, BN_STATS),
        ('conv_init', conv_init, CONV_INITS)):
        if value not in choices:
            raise ValueError(f'{name} must be one of {choices}, got '
                             f'"{value}"')


def loss_weights_of(loss_weights: Optional[Dict[str, float]],
                    loss_normalizer: float) -> Dict[str, float]:
    """The defaults (``labeled`` 1, ``strong`` 0.5, ``fp`` 0.5) updated with
    ``loss_weights``; checks the keys, the signs and the normaliser."""
    weights = dict(labeled=1.0, strong=0.5, fp=0.5)
    unknown = set(loss_weights or {}) - set(weights)
    if unknown:
        raise ValueError(f'unknown loss_weights keys {sorted(unknown)}; '
                         f'expected {sorted(weights)}')
    weights.update(loss_weights or {})
    negative = {k: v for k, v in weights.items() if v < 0}
    if negative:
        raise ValueError(f'loss_weights must be >= 0, got {negative}')
    if loss_normalizer <= 0:
        raise ValueError(f'loss_normalizer must be > 0, got {loss_normalizer}')
    return weights


def build_attention_source(cfg: OptConfigType, decode_head: nn.Module,
                           perturbations: Dict[str, Optional[nn.Module]]):
    """The attention source: built from ``cfg``; if None, ``HeadAttention``
    when a perturbation (``perturbations``: role name -> module or None)
    needs attention and the head provides it, else no source."""
    has_head_att = getattr(decode_head, 'provides_attention', False)
    needs = [
        role for role in ('image_perturbation', 'feature_perturbation')
        if getattr(perturbations[role], 'requires_attention', False)
    ]
    if cfg is None:
        if not needs:
            return None
        if not has_head_att:
            module = perturbations[needs[0]]
            raise ValueError(
                f'{needs[0]} {type(module).__name__} is guided by '
                'attention, but there is no attention_source and decode_'
                f'head {type(decode_head).__name__} does not provide '
                'attention (set attention_source, e.g. '
                "dict(type='PredictionAttention'), use AttUNetHead with "
                'attention=True, or the random counterpart)')
        cfg = dict(type='HeadAttention')
    source = MODELS.build(cfg)
    if source.requires_head_attention and not has_head_att:
        raise ValueError(
            f'attention_source {type(source).__name__} reads the head\'s '
            f'attention, but decode_head {type(decode_head).__name__}'
            ' does not provide it (use AttUNetHead with attention=True)')
    return source


def check_combinations(attention_source, image_perturbation,
                       mix_source: str) -> None:
    """Options that cannot work together: a gradient-based attention source
    for the no-grad pass of the loader partner."""
    if (getattr(attention_source, 'needs_gradients', False)
            and mix_source == 'loader'
            and getattr(image_perturbation, 'requires_attention', False)):
        raise ValueError(
            f'{type(attention_source).__name__} needs gradients, which the '
            "no-grad partner pass of mix_source='loader' has not; use "
            "mix_source='batch'")


def check_batch_sizes(batch_sizes: Dict[str, int], image_perturbation,
                      mix_source: str) -> None:
    """The branch batch sizes suit the CutMix partner: two or more unlabeled
    images for ``mix_source='batch'``, a ``mix`` branch of the unlabeled
    batch size for ``'loader'``."""
    if 'unlabeled' not in batch_sizes:
        return
    if image_perturbation is None:
        return
    if mix_source == 'batch' and batch_sizes['unlabeled'] < 2:
        raise ValueError(
            "mix_source='batch' pairs each unlabeled image with another "
            'image of its batch: the unlabeled batch size must be >= 2, '
            f"got {batch_sizes['unlabeled']}")
    if mix_source == 'loader':
        if 'mix' not in batch_sizes:
            raise ValueError("mix_source='loader' needs a `mix_dataloader`"
                             ' in the config')
        if batch_sizes['mix'] != batch_sizes['unlabeled']:
            raise ValueError(
                "mix_source='loader': the mix batch size "
                f"({batch_sizes['mix']}) must equal the unlabeled batch "
                f"size ({batch_sizes['unlabeled']})")
