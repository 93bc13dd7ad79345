"""What a training step logs to tell whether the attention guides anything.

All functions return tensors (no host sync) and are cheap next to the step's
convolutions. The measures take detached tensors; ``step_logs``, which
gathers them for ``WeakToStrongSegmentor``'s step, detaches what it reads.
"""
import math
from typing import Dict, Optional, Tuple

import torch
import torch.nn.functional as F
from mmseg.models.utils import resize
from mmseg.utils import SampleList
from torch import Tensor, nn

from ..perturbations.att_cutmix import box_means

#: Maps are compared at most at this size (AUC bins, box statistics).
_MAX_SIDE = 64
_AUC_BINS = 256


def attention_auc(spatial: Tensor, labels: Tensor,
                  ignore_index: int = 255) -> Tensor:
    """How well the spatial attention ranks foreground above background.

    Per image: the area under the ROC curve of the map as a detector of
    ``label > 0`` (ties count one half, values binned into 256 levels of the
    image's range), then the mean over images that have both foreground
    and background; 0.5 when none does. 1 = every foreground pixel is more
    attended than every background pixel, 0.5 = no better than chance.

    Args:
        spatial (Tensor): Maps (B, 1, H, W).
        labels (Tensor): Labels (B, H, W) at the same size.
        ignore_index (int): Label value left out.

    Returns:
        Tensor: Scalar.
    """
    spatial = spatial.detach().float()
    labels = labels.detach()
    if spatial.shape[-1] > _MAX_SIDE or spatial.shape[-2] > _MAX_SIDE:
        size = _shrunk(spatial.shape[-2:])
        spatial = F.interpolate(spatial, size=size, mode='area')
        labels = F.interpolate(
            labels[:, None].float(), size=size, mode='nearest')[:, 0].long()
    values = spatial.flatten(1)
    labels = labels.flatten(1)
    valid = labels != ignore_index
    low = values.amin(1, keepdim=True)
    span = (values.amax(1, keepdim=True) - low).clamp_min(1e-12)
    bins = ((values - low) / span * (_AUC_BINS - 1)).round().long()
    fg = ((labels > 0) & valid).float()
    bg = ((labels == 0) & valid).float()
    hist_fg = values.new_zeros(values.shape[0], _AUC_BINS).scatter_add_(
        1, bins, fg)
    hist_bg = values.new_zeros(values.shape[0], _AUC_BINS).scatter_add_(
        1, bins, bg)
    below = hist_bg.cumsum(1) - hist_bg  # background strictly below a bin
    wins = (hist_fg * (below + 0.5 * hist_bg)).sum(1)
    pairs = hist_fg.sum(1) * hist_bg.sum(1)
    has_both = (pairs > 0).float()
    auc = wins / pairs.clamp_min(1)
    count = has_both.sum()
    return torch.where(count > 0, (auc * has_both).sum() / count.clamp_min(1),
                       torch.full_like(count, 0.5))


def box_coverage(mask: Tensor, foreground: Tensor) -> Tuple[Tensor, Tensor]:
    """Share of the partner's foreground inside its CutMix boxes, against
    the share a box of the same size at a uniformly random position holds.

    Args:
        mask (Tensor): Bool boxes (B, H, W) where they were cut from the
            partner (all False: no box).
        foreground (Tensor): The partner's foreground (B, H, W) in [0, 1]
            (e.g. pseudo-label > 0).

    Returns:
        tuple[Tensor, Tensor]: Scalars: the mean share in the boxes and the
        mean share expected of random boxes, over samples that have a box
        and some foreground (0 when none).
    """
    fg = foreground.detach().float()
    total = fg.flatten(1).sum(1)
    box_h = mask.any(2).sum(1)
    box_w = mask.any(1).sum(1)
    used = (box_h > 0) & (total > 0)
    inside = (fg * mask).flatten(1).sum(1) / total.clamp_min(1e-12)
    height, width = fg.shape[-2:]
    means = box_means(fg.double(), box_h.clamp_min(1), box_w.clamp_min(1))
    rows = torch.arange(height, device=fg.device)
    cols = torch.arange(width, device=fg.device)
    fits = ((rows[None] <= (height - box_h)[:, None])[:, :, None]
            & (cols[None] <= (width - box_w)[:, None])[:, None]).double()
    random = (means * fits).flatten(1).sum(1) / fits.flatten(1).sum(
        1).clamp_min(1)
    random = (random * (box_h * box_w).double()).float() / total.clamp_min(
        1e-12)
    n = used.float().sum().clamp_min(1)
    return ((inside * used).sum() / n, (random * used).sum() / n)


def box_iou(mask_a: Tensor, mask_b: Tensor) -> Tensor:
    """Mean IoU of two views' boxes over samples where both have one."""
    a, b = mask_a.flatten(1), mask_b.flatten(1)
    inter = (a & b).sum(1).float()
    union = (a | b).sum(1).float()
    both = (a.any(1) & b.any(1)).float()
    return (inter / union.clamp_min(1) * both).sum() / both.sum().clamp_min(1)


def confident_ratio_per_class(confident: Tensor, pseudo: Tensor,
                              num_classes: int) -> Tensor:
    """For each class, the share of pixels pseudo-labelled with it that pass
    the confidence threshold (0 for a class no pixel was given).

    Args:
        confident (Tensor): (B, H, W) 0/1.
        pseudo (Tensor): (B, H, W) pseudo-labels.
        num_classes (int): Number of classes.

    Returns:
        Tensor: (num_classes, ).
    """
    # one-hot sums, not bincount: bincount on a GPU waits for its max()
    onehot = F.one_hot(pseudo.flatten().long(), num_classes).float()
    given = onehot.sum(0)
    passed = (onehot * confident.flatten().float()[:, None]).sum(0)
    return passed / given.clamp_min(1)


def map_entropy(spatial: Tensor) -> Tensor:
    """Mean entropy of the maps seen as distributions over pixels, divided
    by its maximum log(h*w): 1 = uniform, 0 = one pixel."""
    flat = spatial.detach().flatten(1).float()
    if flat.shape[1] < 2:
        return flat.new_zeros(())
    p = flat / flat.sum(dim=1, keepdim=True).clamp_min(1e-12)
    entropy = -(p * p.clamp_min(1e-12).log()).sum(dim=1)
    return entropy.mean() / math.log(flat.shape[1])


def step_logs(decode_head: nn.Module, att: Optional[dict],
              samples: SampleList, n_x: int, confident: Tensor, pseudo: Tensor,
              logits_fp: Optional[Tensor], boxes) -> Dict[str, Tensor]:
    """Monitoring values of one training step: confident share (overall and
    per class), how well the attention finds the labeled foreground, what
    the boxes hold, and how far the feature perturbation moves the
    prediction:

    ``conf_ratio`` (share of unlabeled pixels above the threshold) and per
    class ``conf_ratio_c<k>`` (share of the pixels pseudo-labelled ``k``
    that are confident); with an attention source ``att_auc`` (AUC of the
    spatial attention as a detector of the labeled slices' foreground: 0.5 =
    chance) and ``att_entropy`` (normalised entropy of the unlabeled maps:
    1 = uniform); with CutMix ``box_fg`` / ``box_fg_random`` (share of the
    partner's pseudo-foreground inside the boxes / expected of boxes of the
    same sizes at random positions) and ``box_iou`` (overlap of the two
    strong views' boxes); with a feature perturbation ``fp_flip`` (share of
    unlabeled pixels whose class the perturbed prediction changes).

    Args:
        decode_head (nn.Module): The segmentor's head (number of classes,
            ignore index, ground truth stacking).
        att (dict, optional): The attention maps of the clean images, the
            ``n_x`` labeled ones first.
        samples (list): The labeled data samples.
        n_x (int): Number of labeled images.
        confident (Tensor): 1.0 where a weak-view pixel is confident.
        pseudo (Tensor): The weak view's pseudo-labels.
        logits_fp (Tensor, optional): The FP branch's logits.
        boxes (list): ``[(mask where cut from the partner, partner
            foreground)]`` per strong view; empty without CutMix.
    """
    out = dict(conf_ratio=confident.mean())
    ratios = confident_ratio_per_class(confident, pseudo,
                                       decode_head.num_classes)
    for k in range(ratios.numel()):
        out[f'conf_ratio_c{k}'] = ratios[k]
    if att is not None:
        spatial = att['spatial'].detach()
        labels = decode_head._stack_batch_gt(samples)[:, 0]
        att_x = spatial[:n_x]
        if att_x.shape[-2:] != labels.shape[-2:]:
            att_x = resize(att_x.float(), size=labels.shape[-2:],
                           mode='bilinear', align_corners=False)
        out['att_auc'] = attention_auc(att_x, labels, decode_head.ignore_index)
        out['att_entropy'] = map_entropy(spatial[n_x:])
    if boxes:
        cover = [box_coverage(m, fg) for m, fg in boxes]
        out['box_fg'] = sum(c[0] for c in cover) / len(cover)
        out['box_fg_random'] = sum(c[1] for c in cover) / len(cover)
        if len(boxes) > 1:
            out['box_iou'] = box_iou(boxes[0][0], boxes[1][0])
    if logits_fp is not None:
        out['fp_flip'] = (logits_fp.detach().argmax(1) !=
                          pseudo).float().mean()
    return out


def _shrunk(size) -> Tuple[int, int]:
    scale = _MAX_SIDE / max(size)
    return (max(1, math.floor(size[0] * scale)),
            max(1, math.floor(size[1] * scale)))
