"""The semi-supervised segmentor: one training step of AIGCMatch / UniMatch /
FixMatch in one readable method (docs/method.md)."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmseg.models.segmentors import EncoderDecoder
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptConfigType, OptMultiConfig, SampleList
from torch import Tensor

from ..attention.base_attention_source import index_maps, slice_maps
from ..perturbations.base_cutmix import shift_maps
from ..utils import (FastStepMixin, batch_tail, frozen_bn_stats,
                     reset_conv_weights)
from .confidence_threshold import build_threshold
from .step_diagnostics import step_logs
from .segmentor_config import (BN_STATS, CONV_INITS, FP_DECODES,  # noqa: F401
                               MIX_SOURCES, PSEUDO_LABEL_PASSES,
                               build_attention_source, check_batch_sizes,
                               check_choices, check_combinations)
from .segmentor_config import loss_weights_of


@MODELS.register_module()
class WeakToStrongSegmentor(FastStepMixin, EncoderDecoder):
    """Weak-to-strong consistency with pluggable image- and feature-level
    perturbations.

    Training batches are dicts keyed by branch: ``inputs['labeled']`` (B, 1,
    H, W) and ``inputs['unlabeled']`` = ``{'weak': ..., 'strong1': ...,
    'strong2': ...}`` (pixel-aligned views); with ``mix_source='loader'`` also
    ``inputs['mix']`` in the same form. A plain batch (a tensor) trains the
    supervised loss only, so the same model serves the supervised baseline.
    Prediction is plain ``EncoderDecoder`` behaviour, and checkpoints are
    plain mmseg state dicts.

    The two hook points (docs/method.md):

    * ``image_perturbation`` (``AttCutMix`` | ``RandomCutMix`` | None): after
      pseudo-labelling, before the strong passes; mixes each strong view with
      a partner, and the pseudo-labels and confidences with the same mask.
    * ``feature_perturbation`` (``AttFeaPerb`` | ``RandomFeaPerb`` | None):
      between encoder and decoder; the decoder's prediction on the perturbed
      weak-view features is the FP branch.

    Args:
        backbone, decode_head, neck, auxiliary_head, train_cfg, test_cfg,
            data_preprocessor, pretrained, init_cfg: As ``EncoderDecoder``.
        image_perturbation (dict, optional): Config of the CutMix module.
        feature_perturbation (dict, optional): Config of the FP module.
        attention_source (dict, optional): Config of the module that says
            where the model's evidence is (``models/attention``: e.g.
            ``PredictionAttention``, ``GradCAMAttention``, ``HeadAttention``);
            the attention-guided perturbations read its maps. Defaults to
            None: ``HeadAttention`` if a perturbation needs attention and the
            head provides it, else no attention.
        unsup_loss (dict): Loss between a prediction and pseudo-labels that
            takes a confidence mask as ``weight``. Defaults to
            ``MaskedDiceLoss``.
        conf_thresh (float | Sequence[float] | dict): Pixels whose weak-view
            confidence is below it are ignored by the unlabeled losses; one
            value per class applies each pseudo-label's own threshold (e.g.
            lower for a thin class that rarely reaches 0.95); a dict builds
            a registered threshold, e.g. ``ClassAdaptiveThreshold`` (per
            class, following the model's confidence in each class).
            Defaults to 0.95.
        pseudo_label_pass (str): Which prediction of the weak view gives the
            pseudo-labels: ``'student'`` (the training pass, dropout on, as
            UniMatch) or ``'eval'`` (an extra no-grad pass in eval mode:
            dropout off, BN running statistics). Defaults to 'student'.
        strong_views (Sequence[str]): Names of the strong views in the
            unlabeled branch. Defaults to ('strong1', 'strong2').
        loss_weights (dict): ``labeled``, ``strong`` (shared equally by the
            strong views) and ``fp``. The total is ``(labeled * loss_x +
            strong * mean(loss_s) + fp * loss_fp) / loss_normalizer``; the
            defaults give UniMatch's ``(x + .25 s1 + .25 s2 + .5 fp) / 2``.
        loss_normalizer (float): Divides the weighted sum. Defaults to 2.
        mix_source (str): CutMix partner: ``'batch'`` (another image of the
            unlabeled batch, whose weak prediction exists already) or
            ``'loader'`` (a second unlabeled batch with its own no-grad
            eval-mode pass, UniMatch's way). Defaults to 'batch'.
        fp_decode (str): How the perturbed features are decoded:
            ``'separate'`` (a decoder pass on the weak view's perturbed
            features alone) or ``'joint'`` (UniMatch's way: one decoder pass
            over the clean and the perturbed features of the labeled and
            weak images together, so they share the decoder's BN batch
            statistics; a guided perturbation reads its attention off an
            extra decode of the clean features, without gradients unless the
            attention source needs them). Defaults to 'joint'.
        bn_stats (str): Which passes update the BN running statistics (the
            ones used at test time): ``'clean'`` (the pass over labeled and
            weak images, joint FP included; strong and separate FP passes use
            their own batch statistics, leaving the running ones alone) or
            ``'all'`` (every training pass, UniMatch's way). Defaults to
            'clean'.
        conv_init (str): Initial convolution weights: ``'kaiming'``
            (mmcv's ``ConvModule`` default: Kaiming-normal, fan-out, and the
            head's output convolution normal(0, 0.01)) or ``'pytorch'``
            (PyTorch's own default, Kaiming-uniform with ``a=sqrt(5)``,
            fan-in: weights about 2.4x smaller, as UniMatch's plain
            ``nn.Conv2d`` layers start). Modules with a ``Pretrained``
            ``init_cfg`` keep their weights. Defaults to 'kaiming'.
        channels_last (bool): Keep the convolution weights and the images
            fed to the backbone in ``torch.channels_last`` memory format
            (NHWC), which cuDNN's fast (tensor-core) kernels want, mostly
            under AMP. Values are those of the default format up to float
            rounding. Defaults to False.
        diagnostics (bool): Log what tells whether the attention guides
            anything (see below). Defaults to True.
        torch_compile (bool | dict): ``torch.compile`` the backbone and the
            decode head's forward passes (a dict is passed to
            ``torch.compile``, e.g. ``dict(mode='max-autotune')``). If
            compiling fails (no compiler, an unsupported op), a warning is
            issued and the model runs eagerly. Prefer this to mmengine's
            ``cfg.compile``, which compiles the whole ``train_step`` (data
            preprocessing, losses with data-dependent checks and the
            optimizer) and recompiles for every random partner shift.
            Defaults to False.

    The segmentor's own code never makes the host wait for the GPU: no
    ``.item()``/``bool()`` of a device tensor, and the one random number drawn
    as a Python int (the cyclic shift of ``mix_source='batch'``) comes from
    the CPU generator (the losses it calls are their own matter). Under AMP
    (``AmpOptimWrapper``) the pseudo-labels, confidences and attention
    statistics are computed in float32 whatever the logits' dtype.

    Logged values: the weighted loss terms (``loss_x_*``, ``loss_s1``, ...,
    ``loss_fp``; they sum to the total), ``conf_ratio`` (share of unlabeled
    pixels above the threshold) and, with ``diagnostics``, the measures of
    :func:`.step_diagnostics.step_logs` (docs/method.md lists them).
    """

    def __init__(self,
                 backbone: ConfigType,
                 decode_head: ConfigType,
                 neck: OptConfigType = None,
                 auxiliary_head: OptConfigType = None,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 pretrained: Optional[str] = None,
                 init_cfg: OptMultiConfig = None,
                 image_perturbation: OptConfigType = None,
                 feature_perturbation: OptConfigType = None,
                 attention_source: OptConfigType = None,
                 unsup_loss: ConfigType = dict(
                     type='MaskedDiceLoss', check_targets=False),
                 conf_thresh: Union[float, Sequence[float], dict] = 0.95,
                 pseudo_label_pass: str = 'student',
                 strong_views: Sequence[str] = ('strong1', 'strong2'),
                 loss_weights: Optional[Dict[str, float]] = None,
                 loss_normalizer: float = 2.0,
                 mix_source: str = 'batch',
                 fp_decode: str = 'joint',
                 bn_stats: str = 'clean',
                 conv_init: str = 'kaiming',
                 channels_last: bool = False,
                 diagnostics: bool = True,
                 torch_compile: Union[bool, dict] = False):
        super().__init__(backbone, decode_head, neck, auxiliary_head,
                         train_cfg, test_cfg, data_preprocessor, pretrained,
                         init_cfg)
        self.conf_threshold = build_threshold(conf_thresh,
                                              self.decode_head.num_classes)
        check_choices(pseudo_label_pass, mix_source, fp_decode, bn_stats,
                      conv_init)
        if not strong_views:
            raise ValueError('strong_views must name at least one view')
        self.loss_weights = loss_weights_of(loss_weights, loss_normalizer)
        self.loss_normalizer = float(loss_normalizer)
        self.pseudo_label_pass = pseudo_label_pass
        self.diagnostics = bool(diagnostics)
        self.strong_views = tuple(strong_views)
        self.mix_source = mix_source
        self.fp_decode = fp_decode
        self.bn_stats = bn_stats
        self.conv_init = conv_init
        self.image_perturbation = (
            MODELS.build(image_perturbation) if image_perturbation else None)
        self.feature_perturbation = (
            MODELS.build(feature_perturbation)
            if feature_perturbation else None)
        self.unsup_loss = MODELS.build(unsup_loss)
        self.attention_source = build_attention_source(
            attention_source, self.decode_head,
            dict(image_perturbation=self.image_perturbation,
                 feature_perturbation=self.feature_perturbation))
        check_combinations(self.attention_source, self.image_perturbation,
                           mix_source)
        self._setup_fast_step(channels_last, torch_compile)

    def init_weights(self) -> None:
        """mmengine's initialisation, then PyTorch's default convolution
        weights where ``conv_init='pytorch'``."""
        super().init_weights()
        if self.conv_init == 'pytorch':
            for name in ('backbone', 'neck', 'decode_head', 'auxiliary_head'):
                module = getattr(self, name, None)
                if isinstance(module, torch.nn.Module):
                    reset_conv_weights(module)

    # ------------------------------------------------------------------ #
    # training step
    # ------------------------------------------------------------------ #
    def loss(self, inputs, data_samples) -> dict:
        """One training step: supervised, or weak-to-strong if branched."""
        if isinstance(inputs, Tensor):
            return super().loss(inputs, data_samples)
        if 'unlabeled' not in inputs:
            raise ValueError('a branched batch needs an "unlabeled" branch; '
                             f'got {sorted(inputs)}')
        x, u = inputs['labeled'], inputs['unlabeled']
        u_w = u['weak']
        strong = [u[name] for name in self.strong_views]
        n_x, n_clean = x.shape[0], x.shape[0] + u_w.shape[0]

        # 1. One encoder pass over labeled + weak unlabeled images (shared BN
        #    statistics). The clean decode gives the labeled logits and the
        #    weak prediction; with fp_decode='joint' the perturbed features
        #    of the same images are decoded in that same pass (UniMatch).
        feats = self.extract_feat(torch.cat([x, u_w]))
        joint_fp = (self.feature_perturbation is not None
                    and self.fp_decode == 'joint')
        decoded = feats
        if joint_fp:
            att_fp = self._pre_attention(feats, x)
            fp = self.feature_perturbation(feats, att_fp)
            decoded = [torch.cat([f, g]) for f, g in zip(feats, fp)]
        logits, head_att = self._decode(decoded)
        logits = self._to_input_size(logits, x)
        logits_fp = logits[n_clean + n_x:] if joint_fp else None
        logits = logits[:n_clean]
        logits_x, logits_u_w = logits[:n_x], logits[n_x:]

        # 2. Attention (where the evidence is) of every clean image, from the
        #    configured source; it guides, it is not trained through.
        att = self._attention(feats, logits,
                              _slice_attention(head_att, 0, n_clean))
        att_u = slice_maps(att, n_x, n_clean)

        # 3. Pseudo-labels and confidences of the weak view (no gradient).
        with torch.no_grad():
            conf_u_w, pseudo_u_w = self._pseudo_labels(u_w, logits_u_w)
            confident_u_w = self.conf_threshold(conf_u_w, pseudo_u_w,
                                                update=True)

        # 4. Feature-level hook: decode perturbed weak-view features.
        if self.feature_perturbation is not None and not joint_fp:
            feats_u = tuple(batch_tail(f, n_x) for f in feats)
            feats_fp = self.feature_perturbation(feats_u, att_u)
            with self._perturbed_pass():
                logits_fp = self._to_input_size(
                    self._decode_plain(feats_fp), u_w)

        # 5. Image-level hook: mix each strong view with its partner; the
        #    pseudo-labels and confidences get exactly the same boxes.
        targets, boxes = self._mix_strong_views(strong, pseudo_u_w, conf_u_w,
                                                att_u, inputs)

        # 6. Strong passes, both views in one batch.
        mixed = torch.cat([t['image'] for t in targets])
        with self._perturbed_pass():
            logits_s = self._to_input_size(
                self._decode_plain(self.extract_feat(mixed)), mixed).chunk(
                    len(targets))

        # 7. Losses.
        losses = self._labeled_losses(logits_x, data_samples['labeled'])
        w = self.loss_weights
        norm = self.loss_normalizer
        for name, logit, target in zip(self.strong_views, logits_s, targets):
            loss = self.unsup_loss(
                logit, target['pseudo'],
                weight=self.conf_threshold(target['conf'], target['pseudo']))
            short = name.replace('strong', 's')
            losses[f'loss_{short}'] = loss * w['strong'] / len(targets) / norm
        if logits_fp is not None:
            loss = self.unsup_loss(logits_fp, pseudo_u_w, weight=confident_u_w)
            losses['loss_fp'] = loss * w['fp'] / norm

        # 8. Diagnostics (logged, never back-propagated).
        if self.diagnostics:
            losses.update(
                step_logs(self.decode_head, att, data_samples['labeled'],
                          n_x, confident_u_w, pseudo_u_w, logits_fp, boxes))
            losses.update(self.conf_threshold.logs())
        else:
            losses['conf_ratio'] = confident_u_w.mean()
        return losses

    # ------------------------------------------------------------------ #
    # pieces of the step
    # ------------------------------------------------------------------ #
    @property
    def train_branches(self) -> Tuple[str, ...]:
        """The batches a training step reads: ``labeled``, ``unlabeled``
        and, with ``mix_source='loader'``, ``mix`` (the loop builds a loader
        only for the branches named here)."""
        if self.image_perturbation is not None and self.mix_source == 'loader':
            return ('labeled', 'unlabeled', 'mix')
        return ('labeled', 'unlabeled')

    def check_train_batches(self, batch_sizes: Dict[str, int]) -> None:
        """Called by the training loop with each branch's batch size."""
        check_batch_sizes(batch_sizes, self.image_perturbation,
                          self.mix_source)

    def _perturbed_pass(self):
        """A strong or separate FP pass: with ``bn_stats='clean'`` its BN
        layers leave the running statistics alone."""
        return frozen_bn_stats(self, enabled=self.bn_stats == 'clean')

    def _attention(self, feats, logits: Tensor, head_att) -> Optional[dict]:
        """The attention source's maps of the clean images, or None."""
        if self.attention_source is None:
            return None
        return self.attention_source(
            feats=[f[:logits.shape[0]] for f in feats],
            logits=logits,
            head_attention=head_att,
            in_index=list(self.decode_head.in_index))

    def _pre_attention(self, feats, like: Tensor) -> Optional[dict]:
        """A guided joint FP's attention, from an extra clean decode."""
        if not getattr(self.feature_perturbation, 'requires_attention', False):
            return None
        grad = getattr(self.attention_source, 'needs_gradients', False)
        with torch.set_grad_enabled(grad), frozen_bn_stats(self):
            logits, head_att = self._decode(feats)
            return self._attention(feats, self._to_input_size(logits, like),
                                   head_att)

    def _pseudo_labels(self, u_w: Tensor, logits_u_w: Tensor):
        """Confidence and arg-max class of the weak view: from the training
        pass (``'student'``, UniMatch) or a dropout-free eval pass
        (``'eval'``)."""
        if self.pseudo_label_pass == 'eval':
            logits_u_w = self._eval_logits(u_w)[0]
        return _confidence_and_label(logits_u_w)

    def _eval_logits(self, images: Tensor):
        """Logits (input size), backbone features and head attention of an
        eval-mode, no-grad pass (dropout off, BN running statistics)."""
        with torch.no_grad():
            was_training = self.training
            self.eval()
            try:
                feats = self.extract_feat(images)
                logits, head_att = self._decode(feats)
            finally:
                self.train(was_training)
        return self._to_input_size(logits, images), feats, head_att

    def _to_input_size(self, logits: Tensor, like: Tensor) -> Tensor:
        if logits.shape[2:] == like.shape[2:]:
            return logits
        return resize(logits, size=like.shape[2:], mode='bilinear',
                      align_corners=self.align_corners)

    def _labeled_losses(self, logits_x: Tensor,
                        samples: SampleList) -> Dict[str, Tensor]:
        raw = self.decode_head.loss_by_feat(logits_x, samples)
        scale = self.loss_weights['labeled'] / self.loss_normalizer
        losses = {}
        for key, value in raw.items():
            if key.startswith('loss'):
                losses[f'loss_x_{key[len("loss_"):]}'] = value * scale
            else:
                losses[f'x_{key}'] = value
        return losses

    def _partner(self, pseudo: Tensor, conf: Tensor, att_u: Optional[dict],
                 strong: List[Tensor], inputs: dict):
        """Partner images, pseudo-labels, confidences and attention."""
        if self.mix_source == 'batch':
            # A random cyclic shift pairs every image with a different one.
            # Drawn on the CPU generator: int() of it never waits for a GPU.
            n = pseudo.shape[0]
            shift = int(torch.randint(1, n, ())) if n > 1 else 0
            perm = (torch.arange(n, device=pseudo.device) + shift) % n
            return ([s[perm] for s in strong], pseudo[perm], conf[perm],
                    index_maps(att_u, perm))
        mix = inputs.get('mix')
        if mix is None:
            raise ValueError("mix_source='loader' but the batch has no 'mix' "
                             'branch (set mix_dataloader in the config)')
        # UniMatch predicts its CutMix partners in eval mode.
        logits, feats, head_att = self._eval_logits(mix['weak'])
        conf_m, pseudo_m = _confidence_and_label(logits)
        att_m = None
        if self.attention_source is not None:
            with torch.no_grad():
                att_m = self._attention(feats, logits, head_att)
        return ([mix[name] for name in self.strong_views], pseudo_m, conf_m,
                att_m)

    def _mix_strong_views(self, strong: List[Tensor], pseudo: Tensor,
                          conf: Tensor, att_u: Optional[dict], inputs: dict):
        """The mixed strong views with their targets, and the boxes
        (``[(mask where cut from the partner, partner foreground)]``)."""
        if self.image_perturbation is None:
            return [dict(image=s, pseudo=pseudo, conf=conf)
                    for s in strong], []
        partner_imgs, partner_pseudo, partner_conf, partner_att = \
            self._partner(pseudo, conf, att_u, strong, inputs)
        cutmix = self.image_perturbation
        guided = getattr(cutmix, 'requires_attention', False)
        targets, boxes = [], []
        for img, partner_img in zip(strong, partner_imgs):
            mask, shift = cutmix.generate_boxes(
                _spatial(att_u) if guided else None,
                _spatial(partner_att) if guided else None,
                img.shape,
                device=img.device)
            # A shift only for a module that moves boxes: reading a shift
            # of zeros would make the host wait for the device.
            shift = shift if cutmix.translates else None
            targets.append(dict(
                image=cutmix.mix(mask, img, partner_img, shift),
                pseudo=cutmix.mix(mask, pseudo, partner_pseudo, shift),
                conf=cutmix.mix(mask, conf, partner_conf, shift)))
            cut = mask if shift is None else shift_maps(mask, -shift)
            boxes.append((cut, (partner_pseudo > 0).float()))
        return targets, boxes


def _confidence_and_label(logits: Tensor):
    """Max softmax probability and arg-max class in float32, also for AMP
    logits (a 0.95 threshold on bf16 would test 8-bit mantissas)."""
    return logits.detach().float().softmax(dim=1).max(dim=1)


def _slice_attention(attention, start, stop):
    if attention is None:
        return None
    return [{k: v[start:stop] for k, v in level.items()}
            for level in attention]


def _spatial(maps: Optional[dict]):
    return None if maps is None else maps['spatial']

