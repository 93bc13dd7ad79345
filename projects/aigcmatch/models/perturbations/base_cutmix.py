"""What AttCutMix and RandomCutMix share: box sizes, box masks, mixing."""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
from torch import Tensor

# Aspect candidates drawn per box for the rejection step. The hardest case,
# area 0.4 of a square image, accepts a candidate with probability ~0.062, so
# all 512 are rejected with probability below 1e-14.
_NUM_SIZE_CANDIDATES = 512


class BaseCutMix(nn.Module):
    """A CutMix box per sample: size drawn as in UniMatch, position chosen by
    the subclass (:meth:`place_boxes`).

    Box sizes follow UniMatch's sampler: the area ``a ~ U(area_range)``
    (fraction of the image) is drawn **once**; then the aspect
    ``r = h / w ~ U(aspect_range)``, with ``h = int(sqrt(a * H * W * r))``,
    ``w = int(sqrt(a * H * W / r))``, and a uniform top-left corner in the
    image are redrawn until the box fits. Here each aspect candidate is
    accepted with the probability that such a corner fits,
    ``(H - h + 1)(W - w + 1) / (H W)``, which gives the same distribution of
    ``(h, w)``; the subclass then places the box. Each sample is mixed with
    probability ``prob`` (samples not mixed get an all-False mask).

    Args:
        prob (float): Probability that a sample gets a box. Defaults to 0.5.
        area_range (tuple[float, float]): Range of the box area, as a
            fraction of the image. Defaults to (0.02, 0.4).
        aspect_range (tuple[float, float]): Range of ``h / w``.
            Defaults to (0.3, 1 / 0.3).
    """

    #: Whether :meth:`generate_mask` needs attention maps.
    requires_attention: bool = False

    def __init__(
        self,
        prob: float = 0.5,
        area_range: Tuple[float, float] = (0.02, 0.4),
        aspect_range: Tuple[float, float] = (0.3, 1 / 0.3)
    ) -> None:
        super().__init__()
        name = type(self).__name__
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f'{name}: `prob` must be in [0, 1], got {prob}')
        if (len(area_range) != 2
                or not 0.0 < area_range[0] <= area_range[1] <= 1.0):
            raise ValueError(f'{name}: `area_range` must be (low, high) with '
                             f'0 < low <= high <= 1, got {area_range}')
        if len(aspect_range) != 2 or not 0.0 < aspect_range[0] <= \
                aspect_range[1]:
            raise ValueError(f'{name}: `aspect_range` must be (low, high) '
                             f'with 0 < low <= high, got {aspect_range}')
        self.prob = float(prob)
        self.area_range = tuple(float(a) for a in area_range)
        self.aspect_range = tuple(float(r) for r in aspect_range)

    def forward(self, *args, **kwargs) -> Tensor:
        """Alias of :meth:`generate_mask`."""
        return self.generate_mask(*args, **kwargs)

    #: Whether a box may be pasted elsewhere than where it was cut.
    translates: bool = False

    @torch.no_grad()
    def generate_mask(self,
                      target_attention=None,
                      partner_attention=None,
                      image_shape: Optional[Sequence[int]] = None,
                      device: Optional[torch.device] = None) -> Tensor:
        """Draw one box per sample, pasted where it was cut.

        A module that translates boxes (:attr:`translates`) needs
        :meth:`generate_boxes`, which also returns the shift.

        Args:
            target_attention: Attention of the images that receive the box
                (see the subclass; ignored by :class:`RandomCutMix`).
            partner_attention: Attention of the images the box is cut from
                (see the subclass; ignored by :class:`RandomCutMix`).
            image_shape (Sequence[int]): Shape of the images being mixed,
                (B, C, H, W) or (B, H, W) (e.g. ``images.shape``), or (H, W)
                when an attention argument gives the batch size.
            device (torch.device, optional): Device of the mask. Defaults to
                the attention's device, else the CPU.

        Returns:
            Tensor: Bool mask (B, H, W), True where the partner's pixels are
            taken.
        """
        if self.translates:
            raise RuntimeError(
                f'{type(self).__name__} pastes boxes elsewhere than where '
                'they are cut: use generate_boxes(), which returns the shift')
        return self.generate_boxes(target_attention, partner_attention,
                                   image_shape, device)[0]

    @torch.no_grad()
    def generate_boxes(
            self,
            target_attention=None,
            partner_attention=None,
            image_shape: Optional[Sequence[int]] = None,
            device: Optional[torch.device] = None) -> Tuple[Tensor, Tensor]:
        """Draw one box per sample: where it is cut and where it lands.

        Args:
            target_attention: Attention of the images that receive the box
                (see the subclass; ignored by :class:`RandomCutMix`).
            partner_attention: Attention of the images the box is cut from
                (see the subclass; ignored by :class:`RandomCutMix`).
            image_shape (Sequence[int]): Shape of the images being mixed,
                (B, C, H, W) or (B, H, W) (e.g. ``images.shape``), or (H, W)
                when an attention argument gives the batch size.
            device (torch.device, optional): Device of the mask. Defaults to
                the attention's device, else the CPU.

        Returns:
            tuple[Tensor, Tensor]: The bool mask (B, H, W), True where the
            target takes the partner's pixels, and the shift (B, 2), long
            (rows, columns) from where each box is cut in the partner to
            where it lands (zeros unless :attr:`translates`); pass both to
            :meth:`mix`.
        """
        batch, height, width = self._resolve_shape(image_shape,
                                                   target_attention,
                                                   partner_attention)
        if device is None:
            device = _device_of(partner_attention, target_attention)
        box_h, box_w = self.sample_box_sizes(batch, height, width, device)
        top, left = self.place_boxes(box_h, box_w, (height, width),
                                     target_attention, partner_attention)
        dst_top, dst_left = self.place_destinations(box_h, box_w,
                                                    (height, width),
                                                    target_attention, top,
                                                    left)
        rows = torch.arange(height, device=device)
        cols = torch.arange(width, device=device)
        in_rows = (rows >= dst_top[:, None]) & (rows <
                                                (dst_top + box_h)[:, None])
        in_cols = (cols >= dst_left[:, None]) & (cols <
                                                 (dst_left + box_w)[:, None])
        applied = torch.rand(batch, device=device) < self.prob
        # Fold the per-sample switch into the rows: one full-size AND.
        mask = (in_rows & applied[:, None])[:, :, None] & in_cols[:, None, :]
        shift = torch.stack([dst_top - top, dst_left - left], dim=1)
        return mask, shift

    def place_destinations(self, box_h: Tensor, box_w: Tensor,
                           image_size: Tuple[int, int], target_attention,
                           top: Tensor, left: Tensor) -> Tuple[Tensor, Tensor]:
        """Where each box lands in the target: by default where it was cut
        (CutMix); a translating subclass overrides this."""
        return top, left

    def sample_box_sizes(self, batch: int, height: int, width: int,
                         device: torch.device) -> Tuple[Tensor, Tensor]:
        """Box heights and widths, as UniMatch's sampler draws them.

        Args:
            batch (int): Number of boxes.
            height (int): Image height H.
            width (int): Image width W.
            device (torch.device): Device of the returned tensors.

        Returns:
            tuple[Tensor, Tensor]: Heights and widths, long (B,), in
            [1, H] and [1, W].
        """
        shape = (batch, _NUM_SIZE_CANDIDATES)
        # The area once per box; only the aspect (and, in UniMatch, the
        # corner) is redrawn until the box fits.
        area = _uniform((batch, 1), self.area_range, device) * (height * width)
        aspect = _uniform(shape, self.aspect_range, device)
        box_h = torch.sqrt(area * aspect).floor().long()
        box_w = torch.sqrt(area / aspect).floor().long()
        # Probability that UniMatch's uniform corner keeps this box inside.
        fit = ((height - box_h + 1).clamp(min=0) *
               (width - box_w + 1).clamp(min=0)).double() / (
                   height * width)
        accepted = torch.rand(shape, device=device, dtype=fit.dtype) < fit
        # First accepted candidate; if none (rare), the one most likely to fit.
        rank = 2.0 - torch.arange(
            _NUM_SIZE_CANDIDATES, device=device, dtype=fit.dtype) / \
            _NUM_SIZE_CANDIDATES
        choice = torch.where(accepted, rank, fit).argmax(dim=1, keepdim=True)
        box_h = box_h.gather(1, choice)[:, 0].clamp(1, height)
        box_w = box_w.gather(1, choice)[:, 0].clamp(1, width)
        return box_h, box_w

    def place_boxes(self, box_h: Tensor, box_w: Tensor,
                    image_size: Tuple[int, int], target_attention,
                    partner_attention) -> Tuple[Tensor, Tensor]:
        """Top-left corners of the boxes; implemented by subclasses.

        Args:
            box_h (Tensor): Box heights, long (B,).
            box_w (Tensor): Box widths, long (B,).
            image_size (tuple[int, int]): (H, W).
            target_attention: As in :meth:`generate_mask`.
            partner_attention: As in :meth:`generate_mask`.

        Returns:
            tuple[Tensor, Tensor]: Rows and columns of the corners, long (B,),
            such that every box lies inside the image.
        """
        raise NotImplementedError

    @staticmethod
    def mix(mask: Tensor,
            target: Tensor,
            partner: Tensor,
            shift: Optional[Tensor] = None) -> Tensor:
        """Paste ``partner`` into ``target`` where ``mask`` is True.

        Args:
            mask (Tensor): Bool (B, H, W) from :meth:`generate_boxes`.
            target (Tensor): Images (B, C, H, W), or per-pixel maps (B, H, W)
                such as pseudo-labels or confidences.
            partner (Tensor): Same shape as ``target``.
            shift (Tensor, optional): (B, 2) from :meth:`generate_boxes`:
                the partner is moved by it first, so that the box cut from
                it lands under the mask. None or zeros: no move.

        Returns:
            Tensor: The mixed tensor, shape and dtype of ``target``.
        """
        if target.shape != partner.shape:
            raise ValueError(
                'CutMix.mix: target and partner must have the same shape, got '
                f'{tuple(target.shape)} and {tuple(partner.shape)}')
        if mask.dtype != torch.bool or mask.dim() != 3:
            raise ValueError('CutMix.mix: mask must be a bool (B, H, W) '
                             f'tensor, got {mask.dtype} {tuple(mask.shape)}')
        if target.dim() == 4:
            mask = mask[:, None]
        if target.dim() not in (3, 4) or \
                mask.shape[-2:] != target.shape[-2:] or \
                mask.shape[0] != target.shape[0]:
            raise ValueError(
                'CutMix.mix: expected images (B, C, H, W) or maps (B, H, W) '
                f'matching the mask {tuple(mask.shape)}, got '
                f'{tuple(target.shape)}')
        if shift is not None:
            # Rolled content is only read inside the box, where it came from
            # the box cut inside the partner: the wrap-around never shows.
            partner = shift_maps(partner, shift)
        return torch.where(mask, partner.to(target.dtype), target)

    def _resolve_shape(self, image_shape, *attentions) -> Tuple[int, int, int]:
        name = type(self).__name__
        if image_shape is None or len(image_shape) not in (2, 3, 4):
            raise ValueError(
                f'{name}.generate_mask: `image_shape` must be the shape of '
                'the images, (B, C, H, W), (B, H, W) or (H, W); got '
                f'{image_shape}')
        height, width = int(image_shape[-2]), int(image_shape[-1])
        if len(image_shape) > 2:
            return int(image_shape[0]), height, width
        for att in attentions:
            batch = _batch_of(att)
            if batch is not None:
                return batch, height, width
        raise ValueError(
            f'{name}.generate_mask: `image_shape` (H, W) gives no batch size '
            'and no attention was passed; pass the images\' full shape')


def shift_maps(maps: Tensor, shift: Tensor) -> Tensor:
    """Move each sample's map by its (rows, columns) shift, cyclically.

    The same as ``torch.roll`` per sample, as two gathers on the device: no
    shift is read back to the host (on a GPU that would be a sync a call).

    Args:
        maps (Tensor): (B, ..., H, W).
        shift (Tensor): (B, 2) integer shifts.

    Returns:
        Tensor: The moved maps.
    """
    batch, height, width = maps.shape[0], maps.shape[-2], maps.shape[-1]
    flat = maps.reshape(batch, -1, height, width)
    shift = shift.to(device=maps.device, dtype=torch.long)
    rows = (torch.arange(height, device=maps.device)[None] -
            shift[:, :1]) % height
    cols = (torch.arange(width, device=maps.device)[None] -
            shift[:, 1:]) % width
    out = flat.gather(2, rows[:, None, :, None].expand_as(flat))
    out = out.gather(3, cols[:, None, None, :].expand_as(flat))
    return out.reshape(maps.shape)


def _uniform(shape: Tuple[int, ...], bounds: Tuple[float, float],
             device: torch.device) -> Tensor:
    low, high = bounds
    return low + (high - low) * torch.rand(
        shape, device=device, dtype=torch.float64)


def _batch_of(attention) -> Optional[int]:
    if attention is None:
        return None
    if isinstance(attention, Tensor):
        return attention.shape[0]
    if isinstance(attention, (list, tuple)) and attention:
        first = attention[0]
        return (first['spatial']
                if isinstance(first, dict) else first).shape[0]
    return None


def _device_of(*attentions) -> torch.device:
    for att in attentions:
        if isinstance(att, Tensor):
            return att.device
        if isinstance(att, (list, tuple)) and att:
            first = att[0]
            return (first['spatial']
                    if isinstance(first, dict) else first).device
    return torch.device('cpu')
