"""What a training step logs to tell whether the attention guides anything.

All functions take detached tensors, return tensors (no host sync) and are
cheap next to the step's convolutions.
"""
import math
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

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


def _shrunk(size) -> Tuple[int, int]:
    scale = _MAX_SIDE / max(size)
    return (max(1, math.floor(size[0] * scale)),
            max(1, math.floor(size[1] * scale)))
