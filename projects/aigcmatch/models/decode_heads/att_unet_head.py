"""UNet decoder with CBAM-style attention on the features it decodes."""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from torch import Tensor

from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, SampleList
from .channel_spatial_attention import ChannelSpatialAttention

AttentionList = List[Dict[str, Tensor]]

#: UniMatch's labeled loss, (CE + Dice) / 2.
UNIMATCH_LABELED_LOSS = (
    dict(type='CrossEntropyLoss', avg_non_ignore=True, loss_weight=0.5),
    dict(type='MaskedDiceLoss', loss_weight=0.5),
)


@MODELS.register_module()
class AttUNetHead(BaseDecodeHead):
    """UNet decoder over all encoder levels, with channel + spatial attention.

    Decoding goes from the deepest selected level (the bottleneck) up: a 2x2
    transposed convolution (stride 2) maps level ``l + 1`` to level ``l``'s
    channels and size, it is concatenated with the skip feature of level
    ``l``, and a block ``(conv3x3-BN-act) x 2`` (no dropout) fuses them to
    ``in_channels[l]`` channels. An output convolution gives the logits at the
    resolution of the highest-resolution input level (``loss``/``predict`` of
    :class:`BaseDecodeHead` resize them to the label / image size). With the
    defaults and :class:`UNetEncoder` this is UniMatch's ACDC UNet decoder.

    With ``attention=True`` a :class:`ChannelSpatialAttention` weights the
    bottleneck and every skip feature before it is decoded; the weights it
    applied are the model's attention, returned by
    :meth:`forward_with_attention`. Any backbone works whose levels each halve
    the previous one's size (mismatches from odd sizes are resized), e.g.
    ``UNetEncoder`` or mmseg's ``ResNetV1c`` with ``in_channels=1``.

    Attributes:
        provides_attention (bool): Whether :meth:`forward_with_attention`
            returns attention maps (equals ``attention``). Attention-guided
            perturbations need it to be True.

    Args:
        in_channels (Sequence[int]): Channels of each selected input level,
            highest resolution first. Defaults to UNetEncoder's
            (16, 32, 64, 128, 256).
        num_classes (int): Number of classes.
        in_index (Sequence[int], optional): Which backbone outputs to decode,
            highest resolution first. Defaults to all,
            ``range(len(in_channels))``.
        channels (int, optional): Channels before the output convolution.
            It is always ``in_channels[0]``; given for mmseg-style configs and
            checked. Defaults to None.
        attention (bool): Apply and report channel + spatial attention.
            False gives a plain UNet decoder (for UniMatch, FixMatch and
            SupBaseline), whose :meth:`forward_with_attention` raises.
            Defaults to True.
        attention_cfg (dict): Keyword arguments of each
            :class:`ChannelSpatialAttention` (``reduction``, ``min_hidden``,
            ``spatial_kernel``, ``gating``). Defaults to ``dict()``: CBAM's
            multiplicative gating ``x * a``; ``gating='residual'`` gives
            ``x * (1 + a)``, which leaves every feature in the decoding path
            (see :class:`ChannelSpatialAttention`).
        upsample (str): How level ``l + 1`` is brought to level ``l``:
            ``'deconv'``, a 2x2 transposed convolution with stride 2; or
            ``'bilinear'``, a 1x1 convolution then 2x bilinear upsampling
            (fewer parameters: 1.81 M instead of 1.94 M for the plain UNet
            with UniMatch's channels). Defaults to ``'deconv'``.
        out_kernel_size (int): Kernel of the output convolution (UniMatch: 3).
            Defaults to 3.
        dropout_ratio (float): Dropout2d before the output convolution.
            Defaults to 0 (UniMatch's decoder has none).
        norm_cfg (dict): Norm layer config. Defaults to ``dict(type='BN')``.
        act_cfg (dict): Activation config.
            Defaults to ``dict(type='LeakyReLU', negative_slope=0.01)``.
        loss_decode (dict | Sequence[dict]): Losses of :meth:`loss`.
            Defaults to UniMatch's labeled loss ``(CE + Dice) / 2``: CE
            (mean over non-ignored pixels, like ``nn.CrossEntropyLoss``) and
            :class:`MaskedDiceLoss`, each with weight 0.5.
        **kwargs: Other :class:`BaseDecodeHead` arguments (``ignore_index``,
            ``align_corners``, ``init_cfg``, ...). ``input_transform`` is
            always ``'multiple_select'``.
    """

    def __init__(self,
                 in_channels: Sequence[int] = (16, 32, 64, 128, 256),
                 *,
                 num_classes: int,
                 in_index: Optional[Sequence[int]] = None,
                 channels: Optional[int] = None,
                 attention: bool = True,
                 attention_cfg: Optional[dict] = None,
                 upsample: str = 'deconv',
                 out_kernel_size: int = 3,
                 dropout_ratio: float = 0.0,
                 norm_cfg: ConfigType = dict(type='BN'),
                 act_cfg: ConfigType = dict(
                     type='LeakyReLU', negative_slope=0.01),
                 loss_decode=UNIMATCH_LABELED_LOSS,
                 **kwargs) -> None:
        if upsample not in ('deconv', 'bilinear'):
            raise ValueError('AttUNetHead: `upsample` must be "deconv" or '
                             f'"bilinear", got {upsample!r}')
        if not isinstance(in_channels, (list, tuple)) or not in_channels:
            raise ValueError('AttUNetHead: `in_channels` must be a non-empty '
                             'list of per-level channels, got '
                             f'{in_channels!r}')
        in_channels = list(in_channels)
        if channels is not None and channels != in_channels[0]:
            raise ValueError(
                'AttUNetHead: `channels` is the width of the last decoder '
                f'block, which is in_channels[0]={in_channels[0]}; got '
                f'channels={channels} (leave it out)')
        transform = kwargs.pop('input_transform', 'multiple_select')
        if transform != 'multiple_select':
            raise ValueError('AttUNetHead decodes every level itself and '
                             'needs input_transform="multiple_select", got '
                             f'{transform!r}')
        in_index = list(range(len(in_channels))) if in_index is None \
            else list(in_index)
        if isinstance(loss_decode, tuple):
            loss_decode = list(loss_decode)
        super().__init__(
            in_channels,
            in_channels[0],
            num_classes=num_classes,
            in_index=in_index,
            input_transform='multiple_select',
            dropout_ratio=dropout_ratio,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg,
            loss_decode=loss_decode,
            **kwargs)
        self.provides_attention = bool(attention)
        # UniMatch's output layer is a 3x3 conv; mmseg's default is 1x1.
        self.conv_seg = nn.Conv2d(
            in_channels[0],
            self.out_channels,
            out_kernel_size,
            padding=out_kernel_size // 2)

        self.ups = nn.ModuleList()
        self.blocks = nn.ModuleList()
        for low, high in zip(in_channels[:-1], in_channels[1:]):
            if upsample == 'deconv':
                self.ups.append(nn.ConvTranspose2d(high, low, 2, stride=2))
            else:
                self.ups.append(
                    nn.Sequential(
                        nn.Conv2d(high, low, 1),
                        nn.Upsample(
                            scale_factor=2,
                            mode='bilinear',
                            align_corners=self.align_corners)))
            self.blocks.append(
                nn.Sequential(
                    ConvModule(
                        2 * low,
                        low,
                        3,
                        padding=1,
                        conv_cfg=self.conv_cfg,
                        norm_cfg=norm_cfg,
                        act_cfg=act_cfg),
                    ConvModule(
                        low,
                        low,
                        3,
                        padding=1,
                        conv_cfg=self.conv_cfg,
                        norm_cfg=norm_cfg,
                        act_cfg=act_cfg)))
        if self.provides_attention:
            self.attentions = nn.ModuleList(
                ChannelSpatialAttention(c, **(attention_cfg or {}))
                for c in in_channels)
        else:
            self.attentions = None

    def forward(self, inputs: Sequence[Tensor]) -> Tensor:
        """Decode features to logits.

        Args:
            inputs (Sequence[Tensor]): Backbone outputs (all levels; the head
                selects ``in_index``), or a perturbed copy of them.

        Returns:
            Tensor: Logits (B, out_channels, h_0, w_0) at the resolution of
            the highest-resolution selected level.
        """
        return self._decode(inputs)[0]

    def forward_with_attention(
            self, inputs: Sequence[Tensor]) -> Tuple[Tensor, AttentionList]:
        """Decode features and return the attention the head applied.

        Args:
            inputs (Sequence[Tensor]): Backbone outputs, as in
                :meth:`forward`.

        Returns:
            tuple[Tensor, list[dict]]: Logits as :meth:`forward`, and one
            ``dict(channel=Tensor(B, C_l), spatial=Tensor(B, 1, h_l, w_l))``
            per selected level, in input order, values in (0, 1), still
            attached to the autograd graph.

        Raises:
            RuntimeError: The head was built with ``attention=False``.
        """
        if not self.provides_attention:
            raise RuntimeError(
                'AttUNetHead was built with attention=False and has no '
                'attention maps; set attention=True in the decode_head config '
                'to use attention-guided perturbations')
        return self._decode(inputs)

    def _decode(
            self, inputs: Sequence[Tensor]
    ) -> Tuple[Tensor, Optional[AttentionList]]:
        if len(inputs) <= max(self.in_index):
            raise ValueError(
                f'AttUNetHead: in_index {list(self.in_index)} selects levels '
                f'the backbone does not give (it gave {len(inputs)} levels)')
        feats = self._transform_inputs(inputs)
        self._check_feats(feats)
        maps: AttentionList = []

        def attend(level: int, feat: Tensor) -> Tensor:
            if self.attentions is None:
                return feat
            feat, att = self.attentions[level](feat)
            maps.append(att)
            return feat

        num_levels = len(feats)
        x = attend(num_levels - 1, feats[-1])
        for level in range(num_levels - 2, -1, -1):
            skip = attend(level, feats[level])
            up = self.ups[level](x)
            if up.shape[2:] != skip.shape[2:]:
                up = resize(
                    up,
                    size=skip.shape[2:],
                    mode='bilinear',
                    align_corners=self.align_corners)
            x = self.blocks[level](torch.cat([skip, up], dim=1))
        logits = self.cls_seg(x)
        if self.attentions is None:
            return logits, None
        return logits, maps[::-1]  # collected deepest first

    def loss_by_feat(self, seg_logits: Tensor,
                     batch_data_samples: SampleList) -> Dict[str, Tensor]:
        """Losses of ``loss_decode`` and the pixel accuracy, as
        ``BaseDecodeHead.loss_by_feat`` computes them, without waiting for
        the GPU.

        mmseg's ``accuracy`` selects the non-ignored pixels by boolean
        indexing, which makes the host wait for the device twice per call;
        here they are counted with a mask, giving the same value.

        Args:
            seg_logits (Tensor): Logits (B, C, h, w); resized bilinearly to
                the label size if they differ.
            batch_data_samples (list[SegDataSample]): Samples with
                ``gt_sem_seg``.

        Returns:
            dict[str, Tensor]: One entry per loss name, and ``acc_seg`` (in
            percent, shape (1, ) like mmseg's).
        """
        labels = self._stack_batch_gt(batch_data_samples)
        if seg_logits.shape[2:] != labels.shape[2:]:
            seg_logits = resize(
                input=seg_logits,
                size=labels.shape[2:],
                mode='bilinear',
                align_corners=self.align_corners)
        weight = None
        if self.sampler is not None:
            weight = self.sampler.sample(seg_logits, labels)
        labels = labels.squeeze(1)
        loss_modules = self.loss_decode if isinstance(
            self.loss_decode, nn.ModuleList) else [self.loss_decode]
        losses: Dict[str, Tensor] = {}
        for loss_module in loss_modules:
            value = loss_module(
                seg_logits,
                labels,
                weight=weight,
                ignore_index=self.ignore_index)
            name = loss_module.loss_name
            losses[name] = losses[name] + value if name in losses else value
        losses['acc_seg'] = pixel_accuracy(seg_logits, labels,
                                           self.ignore_index)
        return losses

    def _check_feats(self, feats: Sequence[Tensor]) -> None:
        got = [tuple(f.shape) for f in feats]
        ok = all(f.dim() == 4 and f.shape[1] == c
                 for f, c in zip(feats, self.in_channels))
        if not ok:
            raise ValueError(
                'AttUNetHead: expected 4-D features with channels '
                f'{list(self.in_channels)} (in_index {list(self.in_index)}), '
                f'got shapes {got}; set decode_head.in_channels to the '
                "backbone's output channels")


def pixel_accuracy(logits: Tensor, labels: Tensor,
                   ignore_index: Optional[int] = None) -> Tensor:
    """Percentage of non-ignored pixels whose arg-max class is the label.

    The value of ``mmseg.models.losses.accuracy`` with ``topk=1`` (same
    epsilon), computed with masks instead of boolean indexing, so that it
    never synchronises the host with the device.

    Args:
        logits (Tensor): (B, C, H, W).
        labels (Tensor): (B, H, W).
        ignore_index (int, optional): Label value left out. Defaults to None.

    Returns:
        Tensor: Shape (1, ), in [0, 100].
    """
    with torch.no_grad():
        correct = logits.argmax(dim=1) == labels
        if ignore_index is not None:
            valid = labels != ignore_index
            correct = correct & valid
            total = valid.sum(dtype=torch.float32)
        else:
            total = torch.tensor(
                float(labels.numel()), device=labels.device)
        eps = torch.finfo(torch.float32).eps
        hits = correct.sum(dtype=torch.float32).reshape(1)
        return (hits + eps) * (100.0 / (total + eps))
