"""What every attention source returns, and the channel weights they share."""
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

#: ``dict(spatial=Tensor(B, 1, H, W) in [0, 1], channel=[Tensor(B, C_i) or
#: None for each backbone output i])``: the spatial map at input size, and
#: channel weights aligned with the backbone's outputs (None for an output
#: the head does not decode, which AttFeaPerb then leaves alone).
AttentionMaps = Dict[str, object]


class BaseAttentionSource(nn.Module):
    """Turns the clean pass of a training step into attention maps.

    Subclasses implement :meth:`forward`; the result carries no gradient
    (the maps guide the perturbations, they are not trained through them).
    """

    #: Whether the decode head must provide its own attention
    #: (``AttUNetHead(attention=True)``).
    requires_head_attention: bool = False
    #: Whether :meth:`forward` differentiates the logits (it then needs a
    #: pass with gradients).
    needs_gradients: bool = False

    def forward(self, feats: Sequence[Tensor], logits: Tensor,
                head_attention: Optional[List[dict]],
                in_index: Sequence[int]) -> AttentionMaps:
        """Attention of every image of the clean pass.

        Args:
            feats (Sequence[Tensor]): Backbone outputs (B, C_i, h_i, w_i),
                still attached to the graph (a gradient-based source needs
                that; others detach).
            logits (Tensor): Clean logits at input size (B, K, H, W).
            head_attention (list[dict], optional): The head's own attention
                (one ``dict(channel, spatial)`` per decoded level), or None.
            in_index (Sequence[int]): Which backbone outputs the head decodes,
                in the order of ``head_attention``.

        Returns:
            dict: :data:`AttentionMaps`.
        """
        raise NotImplementedError


def normalise_per_image(maps: Tensor) -> Tensor:
    """Scale each image's map to [0, 1] (a constant map becomes 0)."""
    flat = maps.flatten(1)
    low = flat.amin(1).view(-1, *([1] * (maps.dim() - 1)))
    high = flat.amax(1).view(-1, *([1] * (maps.dim() - 1)))
    return (maps - low) / (high - low).clamp_min(1e-12)


def channel_selectivity(feats: Sequence[Tensor], spatial: Tensor,
                        in_index: Sequence[int]) -> List[Optional[Tensor]]:
    """How much more each channel responds where the spatial map is high.

    For backbone output ``i`` (if decoded) and channel ``c``:
    ``E_A[f_c^2] / E[f_c^2]`` with ``E_A`` the average weighted by the map
    resized to the feature's size: > 1 for channels that fire on the
    attended region, < 1 for those that fire elsewhere.

    Args:
        feats (Sequence[Tensor]): Backbone outputs (B, C_i, h_i, w_i).
        spatial (Tensor): Maps (B, 1, H, W) in [0, 1].
        in_index (Sequence[int]): Decoded outputs; others get None.

    Returns:
        list: (B, C_i) float32 weights per output, or None.
    """
    out: List[Optional[Tensor]] = [None] * len(feats)
    for i in in_index:
        feat = feats[i].detach().float()
        att = F.interpolate(
            spatial.float(), size=feat.shape[2:], mode='area')
        energy = feat * feat
        focused = (energy * att).sum((2, 3)) / att.sum((2, 3)).clamp_min(1e-6)
        out[i] = focused / energy.mean((2, 3)).clamp_min(1e-12)
    return out


def slice_maps(maps: Optional[AttentionMaps], start: int,
               stop: int) -> Optional[AttentionMaps]:
    """The maps of images ``start:stop`` (None stays None)."""
    if maps is None:
        return None
    return dict(
        spatial=maps['spatial'][start:stop],
        channel=[None if c is None else c[start:stop]
                 for c in maps['channel']])


def index_maps(maps: Optional[AttentionMaps],
               index: Tensor) -> Optional[AttentionMaps]:
    """The maps of images ``index`` (None stays None)."""
    if maps is None:
        return None
    return dict(
        spatial=maps['spatial'][index],
        channel=[None if c is None else c[index] for c in maps['channel']])
