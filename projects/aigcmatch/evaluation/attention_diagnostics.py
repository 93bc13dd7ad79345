"""Does a trained model's attention point at anything? Measured on labelled
slices, with the model's own attention source and perturbations."""
from typing import Dict, List

import torch
import torch.nn.functional as F
from torch import Tensor

from ..models.attention import channel_selectivity
from ..models.perturbations import shift_maps
from ..models.segmentors import step_diagnostics


def _top_sets(weights: Tensor, k: int) -> Tensor:
    top = torch.zeros_like(weights, dtype=torch.bool)
    return top.scatter_(1, weights.topk(k, dim=1).indices, True)


def attention_report(model: torch.nn.Module, images: Tensor, labels: Tensor,
                     draws: int = 8) -> Dict[str, float]:
    """Attention, CutMix boxes, pseudo-labels and the feature perturbation
    of a ``WeakToStrongSegmentor`` on labelled slices.

    The model runs in eval mode (BN running statistics, no dropout); the
    perturbation modules in training mode. Image ``i``'s CutMix partner is
    image ``i + 1`` (cyclically).

    Args:
        model (nn.Module): The segmentor, with its checkpoint loaded.
        images (Tensor): (N, 1, H, W) at the model's input size.
        labels (Tensor): (N, H, W) ground truth at the same size.
        draws (int): CutMix boxes drawn per image for the box statistics.

    Returns:
        dict[str, float]: ``att_auc`` (spatial attention vs foreground: 0.5 =
        chance), ``att_entropy``; per class ``k`` (1..K-1):
        ``conf_ratio_c<k>`` (share of the pixels pseudo-labelled ``k`` that
        pass the threshold) and ``pseudo_precision_c<k>`` (share of those
        that are ``k`` in truth); ``box_fg`` / ``box_fg_random`` (share of
        the partner's foreground inside the boxes / in boxes of the same
        sizes at random positions), ``box_iou`` (two draws' boxes);
        ``channel_overlap_l<i>`` / ``channel_overlap_random_l<i>`` (how many
        of the channels the attention ranks strong are among the channels
        most selective for the true foreground, and the share chance
        gives), ``fp_flip`` (share of pixels whose class the feature
        perturbation changes).
    """
    model.eval()
    device = next(model.parameters()).device
    images, labels = images.to(device), labels.to(device)
    source = model.attention_source
    out: Dict[str, float] = {}
    with torch.enable_grad():  # a gradient-based source needs it
        feats = model.extract_feat(images)
        logits, head_att = model._decode(feats)
        logits = model._to_input_size(logits, images)
        att = model._attention(feats, logits, head_att) if source else None
    feats = [f.detach() for f in feats]
    logits = logits.detach()
    fg = (labels > 0).float()
    with torch.no_grad():
        conf, pseudo = logits.float().softmax(1).max(1)
        confident = model.conf_threshold(conf, pseudo)
        num_classes = logits.shape[1]
        ratios = step_diagnostics.confident_ratio_per_class(
            confident, pseudo, num_classes)
        for k in range(1, num_classes):
            kept = (confident > 0) & (pseudo == k)
            out[f'conf_ratio_c{k}'] = float(ratios[k])
            out[f'pseudo_precision_c{k}'] = float(
                (kept & (labels == k)).sum() / kept.sum().clamp_min(1))
        if att is not None:
            out['att_auc'] = float(
                step_diagnostics.attention_auc(att['spatial'], labels))
            out['att_entropy'] = float(
                step_diagnostics.map_entropy(att['spatial']))
            truth = channel_selectivity(feats, fg[:, None],
                                        range(len(feats)))
            for i, weights in enumerate(att['channel']):
                if weights is None:
                    continue
                k = max(1, weights.shape[1] // 2)
                mine = _top_sets(weights, k)
                true = _top_sets(truth[i], k)
                out[f'channel_overlap_l{i}'] = float(
                    (mine & true).sum(1).float().mean() / k)
                out[f'channel_overlap_random_l{i}'] = k / weights.shape[1]
        cutmix = model.image_perturbation
        if cutmix is not None:
            out.update(_boxes(cutmix, att, fg, images.shape, draws))
        fp = model.feature_perturbation
        if fp is not None:
            fp.train()
            try:
                perturbed = fp(tuple(feats), att)
            finally:
                fp.eval()
            logits_fp = model._to_input_size(
                model._decode_plain(perturbed), images)
            out['fp_flip'] = float(
                (logits_fp.argmax(1) != pseudo).float().mean())
    return out


def _boxes(cutmix, att, fg: Tensor, shape, draws: int) -> Dict[str, float]:
    guided = getattr(cutmix, 'requires_attention', False)
    partner = torch.roll(torch.arange(fg.shape[0], device=fg.device), -1)
    spatial = att['spatial'] if att is not None else None
    cover, random, iou, cuts = [], [], [], []
    for _ in range(draws):
        mask, shift = cutmix.generate_boxes(
            spatial if guided else None,
            spatial[partner] if guided else None,
            shape,
            device=fg.device)
        cut = shift_maps(mask, -shift) if cutmix.translates else mask
        c, r = step_diagnostics.box_coverage(cut, fg[partner])
        cover.append(float(c))
        random.append(float(r))
        if cuts:
            iou.append(float(step_diagnostics.box_iou(cuts[-1], cut)))
        cuts.append(cut)
    return dict(
        box_fg=sum(cover) / len(cover),
        box_fg_random=sum(random) / len(random),
        box_iou=sum(iou) / max(1, len(iou)))


def resized_labels(labels: List[Tensor], size) -> Tensor:
    """Label maps of any sizes, nearest-resized to one (N, H, W)."""
    return torch.cat([
        F.interpolate(lab[None, None].float(), size=size,
                      mode='nearest')[0].long() for lab in labels
    ])
