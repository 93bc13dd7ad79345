"""CutMix whose box is placed where the partner image's attention is."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from mmseg.registry import MODELS
from .base_cutmix import BaseCutMix

# Head attention (one dict per level) or a spatial map (B, 1, h, w)/(B, h, w).
Attention = Union[List[Dict[str, Tensor]], Tensor]
LevelSpec = Union[str, int, Sequence[int]]

PASTE_MODES = ('same', 'target_least')

# Box means closer to the best than this count as ties (broken at random, so
# a flat attention map does not always put the box in the top-left corner).
_TIE_TOLERANCE = 1e-9


def spatial_attention_map(attention: Attention,
                          size: Tuple[int, int],
                          levels: LevelSpec = 'mean') -> Tensor:
    """One spatial attention map per sample at image size.

    Args:
        attention (list[dict] | Tensor): The head's attention (a list with
            ``dict(spatial=Tensor(B, 1, h_l, w_l), ...)`` per level, as
            returned by ``AttUNetHead.forward_with_attention``), or a map
            (B, 1, h, w) / (B, h, w).
        size (tuple[int, int]): Output (H, W).
        levels (str | int | Sequence[int]): For a list, which levels' maps to
            average after bilinear upsampling: ``'mean'`` (all), one index or
            several. Defaults to ``'mean'``.

    Returns:
        Tensor: Float64 map (B, H, W).
    """
    if isinstance(attention, Tensor):
        maps = [attention]
    elif isinstance(attention, (list, tuple)) and attention and all(
            isinstance(a, dict) and 'spatial' in a for a in attention):
        if levels == 'mean':
            chosen = list(range(len(attention)))
        elif isinstance(levels, int):
            chosen = [levels]
        elif isinstance(levels, (list, tuple)) and levels:
            chosen = list(levels)
        else:
            raise ValueError('attention_level must be "mean", a level index '
                             f'or a list of them, got {levels!r}')
        if any(not -len(attention) <= i < len(attention) for i in chosen):
            raise ValueError(
                f'attention_level {levels!r} is out of range: the attention '
                f'has {len(attention)} levels')
        maps = [attention[i]['spatial'] for i in chosen]
    else:
        raise TypeError(
            'attention must be the head\'s list of dict(channel=..., '
            'spatial=...) per level, or a spatial map Tensor (B, 1, h, w); '
            f'got {type(attention).__name__}')
    total = None
    for att in maps:
        if att.dim() == 3:
            att = att[:, None]
        if att.dim() != 4 or att.shape[1] != 1:
            raise ValueError('a spatial attention map must be (B, 1, h, w) '
                             f'or (B, h, w), got {tuple(att.shape)}')
        att = att.detach().to(torch.float64)
        if tuple(att.shape[-2:]) != tuple(size):
            att = F.interpolate(
                att, size=size, mode='bilinear', align_corners=False)
        if total is None:  # accumulate in place: one buffer, not one a level
            total = att.clone() if len(maps) > 1 else att
        else:
            total.add_(att)
    return total[:, 0] / len(maps)


def box_means(attention: Tensor, box_h: Tensor, box_w: Tensor) -> Tensor:
    """Mean of ``attention`` in a box of each sample's size, at every corner.

    One summed-area table per batch answers every position and every box size
    at once.

    Args:
        attention (Tensor): Maps (B, H, W).
        box_h (Tensor): Box heights, long (B,).
        box_w (Tensor): Box widths, long (B,).

    Returns:
        Tensor: (B, H, W); entry ``[b, y, x]`` is the mean over rows
        ``y:y+h_b`` and columns ``x:x+w_b``, valid where the box fits
        (``y <= H - h_b`` and ``x <= W - w_b``), meaningless elsewhere.
    """
    batch, height, width = attention.shape
    table = attention.new_zeros(batch, height + 1, width + 1)
    torch.cumsum(attention, 1, out=table[:, 1:, 1:])
    table[:, 1:, 1:] = table[:, 1:, 1:].cumsum(2)
    rows = torch.arange(height, device=attention.device)
    cols = torch.arange(width, device=attention.device)
    bottom = (rows[None] + box_h[:, None]).clamp(max=height)
    right = (cols[None] + box_w[:, None]).clamp(max=width)
    # Rows first, then columns: two gathers over (B, H, W) instead of four
    # 3-index look-ups (same sums; float64 rounding may differ by ~1e-16).
    band = table.gather(1, bottom[:, :, None].expand(-1, -1, width + 1))
    band -= table[:, :height]
    total = band.gather(2, right[:, None, :].expand(-1, height, -1))
    total -= band[:, :, :width]
    return total.div_((box_h * box_w).to(total.dtype)[:, None, None])


@MODELS.register_module()
class AttCutMix(BaseCutMix):
    """CutMix that pastes the part of the partner its attention is on.

    Box size and the per-sample probability follow UniMatch
    (:class:`BaseCutMix`). The box's position maximises the score::

        score(y, x) = mean(A_partner in box) - lambda_target * mean(A_target
                                                                  in box)

    over every position where the box fits, ``A`` being the spatial attention
    upsampled to image size (see ``attention_level``). With ``tau=None`` the
    best position is taken (ties at random); otherwise a position is sampled
    with probability proportional to ``exp(score / tau)`` (scores are mean
    attention values in (0, 1), so ``tau`` is on that scale). The partner's
    pixels inside the box are pasted at the same position; image,
    pseudo-label and confidence are mixed with the same mask (:meth:`mix`).

    Args:
        prob (float): Probability that a sample gets a box. Defaults to 0.5.
        area_range (tuple[float, float]): Box area as a fraction of the
            image. Defaults to (0.02, 0.4).
        aspect_range (tuple[float, float]): Range of ``h / w``.
            Defaults to (0.3, 1 / 0.3).
        tau (float, optional): Softmax temperature; None takes the argmax.
            Defaults to None.
        lambda_target (float): Weight of the target's own attention in the
            box (>0 keeps the box off the target's anatomy). Defaults to 0.
        attention_level (str | int | Sequence[int]): For the head's list of
            levels: which levels' spatial maps make ``A``: ``'mean'``
            averages all levels, an index or list of indices picks levels.
            Ignored for a map (an attention source's ``spatial``).
            Defaults to ``'mean'``.
        paste (str): Where the box lands in the target: ``'same'`` (where it
            was cut, as CutMix) or ``'target_least'`` (where the target's own
            attention in a box of that size is lowest, ties at random or
            sampled with ``tau``), so that the target's anatomy stays whole
            and the mixed image holds both. Defaults to 'same'.
    """

    requires_attention = True

    def __init__(self,
                 prob: float = 0.5,
                 area_range: Tuple[float, float] = (0.02, 0.4),
                 aspect_range: Tuple[float, float] = (0.3, 1 / 0.3),
                 tau: Optional[float] = None,
                 lambda_target: float = 0.0,
                 attention_level: LevelSpec = 'mean',
                 paste: str = 'same') -> None:
        super().__init__(prob, area_range, aspect_range)
        if paste not in PASTE_MODES:
            raise ValueError(f'AttCutMix: `paste` must be one of '
                             f'{PASTE_MODES}, got {paste!r}')
        if paste != 'same' and lambda_target != 0:
            raise ValueError(
                "AttCutMix: lambda_target weighs the target's attention at "
                "the cut position, which paste='target_least' does not "
                'use; set lambda_target=0')
        if tau is not None and not tau > 0:
            raise ValueError(
                f'AttCutMix: `tau` must be > 0 or None, got {tau}')
        if isinstance(attention_level, str) and attention_level != 'mean':
            raise ValueError('AttCutMix: `attention_level` must be "mean", a '
                             f'level index or a list, got {attention_level!r}')
        self.tau = tau
        self.lambda_target = float(lambda_target)
        self.attention_level = attention_level
        self.paste = paste
        self.translates = paste != 'same'

    def generate_mask(self,
                      target_attention: Optional[Attention],
                      partner_attention: Attention,
                      image_shape: Sequence[int],
                      device: Optional[torch.device] = None) -> Tensor:
        """Draw one box per sample, placed by attention.

        Args:
            target_attention (list[dict] | Tensor | None): Attention of the
                images receiving the box (the head's list, or a map
                (B, 1, h, w)); may be None when ``lambda_target == 0``.
            partner_attention (list[dict] | Tensor): Attention of the images
                the box is cut from, sample ``i`` pairs with target ``i``.
            image_shape (Sequence[int]): (B, C, H, W), (B, H, W) or (H, W).
            device (torch.device, optional): Defaults to the attention's.

        Returns:
            Tensor: Bool mask (B, H, W), True = take the partner.
        """
        if partner_attention is None:
            raise ValueError('AttCutMix.generate_mask needs the partner\'s '
                             'attention (partner_attention is None)')
        return super().generate_mask(target_attention, partner_attention,
                                     image_shape, device)

    def generate_boxes(self,
                       target_attention: Optional[Attention],
                       partner_attention: Attention,
                       image_shape: Sequence[int],
                       device: Optional[torch.device] = None):
        """Draw one box per sample, placed by attention; see
        :meth:`BaseCutMix.generate_boxes`."""
        if partner_attention is None:
            raise ValueError('AttCutMix.generate_boxes needs the partner\'s '
                             'attention (partner_attention is None)')
        if (self.lambda_target != 0
                or self.translates) and target_attention is None:
            raise ValueError('AttCutMix with lambda_target != 0 or paste='
                             f'{self.paste!r} needs the target\'s attention '
                             '(target_attention is None)')
        return super().generate_boxes(target_attention, partner_attention,
                                      image_shape, device)

    def place_boxes(self, box_h: Tensor, box_w: Tensor,
                    image_size: Tuple[int, int], target_attention,
                    partner_attention) -> Tuple[Tensor, Tensor]:
        """Corners maximising the attention score (see the class doc)."""
        height, width = image_size
        batch = box_h.shape[0]
        partner = spatial_attention_map(partner_attention, image_size,
                                        self.attention_level)
        _check_batch(partner, batch, 'partner_attention')
        score = box_means(partner.to(box_h.device), box_h, box_w)
        if self.lambda_target != 0:
            target = spatial_attention_map(target_attention, image_size,
                                           self.attention_level)
            _check_batch(target, batch, 'target_attention')
            score = score - self.lambda_target * box_means(
                target.to(box_h.device), box_h, box_w)

        return self._best_corner(score, box_h, box_w, image_size)

    def place_destinations(self, box_h: Tensor, box_w: Tensor,
                           image_size: Tuple[int, int], target_attention,
                           top: Tensor, left: Tensor) -> Tuple[Tensor, Tensor]:
        """With ``paste='target_least'``: the corners where the target's own
        attention in the box is lowest; else where the box was cut."""
        if not self.translates:
            return top, left
        target = spatial_attention_map(target_attention, image_size,
                                       self.attention_level)
        _check_batch(target, box_h.shape[0], 'target_attention')
        score = -box_means(target.to(box_h.device), box_h, box_w)
        return self._best_corner(score, box_h, box_w, image_size)

    def _best_corner(self, score: Tensor, box_h: Tensor, box_w: Tensor,
                     image_size: Tuple[int, int]) -> Tuple[Tensor, Tensor]:
        """Corner of the highest score (ties at random), or sampled with
        probability ``exp(score / tau)``, among corners where the box fits."""
        height, width = image_size
        rows = torch.arange(height, device=score.device)
        cols = torch.arange(width, device=score.device)
        # Corners where the box sticks out: whole rows and whole columns.
        score.masked_fill_((rows[None] > (height - box_h)[:, None])[:, :,
                                                                     None],
                           float('-inf'))
        score.masked_fill_((cols[None] > (width - box_w)[:, None])[:, None],
                           float('-inf'))
        score = score.flatten(1)
        noise = torch.rand_like(score).clamp_(1e-12, 1 - 1e-12)
        if self.tau is None:
            best = score.amax(dim=1, keepdim=True)
            pick = noise.masked_fill_(score < best - _TIE_TOLERANCE,
                                      -1.0).argmax(dim=1)
        else:  # Gumbel-max: a softmax sample without leaving the device
            pick = (score / self.tau - torch.log(-torch.log(noise))).argmax(1)
        return pick // width, pick % width


def _check_batch(att_map: Tensor, batch: int, name: str) -> None:
    if att_map.shape[0] != batch:
        raise ValueError(f'AttCutMix: {name} has batch size '
                         f'{att_map.shape[0]}, the images have {batch}')
