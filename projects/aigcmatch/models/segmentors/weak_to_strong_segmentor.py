"""The semi-supervised segmentor: one training step of AIGCMatch / UniMatch /
FixMatch in one readable method (DESIGN.md §1)."""
import math
import warnings
from contextlib import contextmanager
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmseg.models.segmentors import EncoderDecoder
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptConfigType, OptMultiConfig, SampleList
from torch import Tensor
from torch.nn.modules.batchnorm import _BatchNorm

MIX_SOURCES = ('batch', 'loader')
FP_DECODES = ('separate', 'joint')
BN_STATS = ('clean', 'all')
CONV_INITS = ('kaiming', 'pytorch')


@MODELS.register_module()
class WeakToStrongSegmentor(EncoderDecoder):
    """Weak-to-strong consistency with pluggable image- and feature-level
    perturbations.

    Training batches are dicts keyed by branch: ``inputs['labeled']`` (B, 1,
    H, W) and ``inputs['unlabeled']`` = ``{'weak': ..., 'strong1': ...,
    'strong2': ...}`` (pixel-aligned views); with ``mix_source='loader'`` also
    ``inputs['mix']`` in the same form. A plain batch (a tensor) trains the
    supervised loss only, so the same model serves the supervised baseline.
    Prediction is plain ``EncoderDecoder`` behaviour, and checkpoints are
    plain mmseg state dicts.

    The two hook points (DESIGN.md §3):

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
        unsup_loss (dict): Loss between a prediction and pseudo-labels that
            takes a confidence mask as ``weight``. Defaults to
            ``MaskedDiceLoss``.
        conf_thresh (float): Pixels whose weak-view confidence is below it are
            ignored by the unlabeled losses. Defaults to 0.95.
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
            statistics; needs a feature perturbation that does not use the
            head's attention). Defaults to 'separate'.
        bn_stats (str): Which passes update the BN running statistics (the
            ones used at test time): ``'clean'`` (only the pass over labeled
            and weak images; the strong and separate FP passes normalise with
            their own batch statistics but leave the running ones alone) or
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
    ``loss_fp``; they sum to the total), ``conf_ratio`` (fraction of
    unlabeled pixels above ``conf_thresh``) and ``att_entropy`` (mean
    normalised entropy of the head's spatial attention, in [0, 1]).
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
                 unsup_loss: ConfigType = dict(
                     type='MaskedDiceLoss', check_targets=False),
                 conf_thresh: float = 0.95,
                 strong_views: Sequence[str] = ('strong1', 'strong2'),
                 loss_weights: Optional[Dict[str, float]] = None,
                 loss_normalizer: float = 2.0,
                 mix_source: str = 'batch',
                 fp_decode: str = 'separate',
                 bn_stats: str = 'clean',
                 conv_init: str = 'kaiming',
                 channels_last: bool = False,
                 torch_compile: Union[bool, dict] = False):
        super().__init__(backbone, decode_head, neck, auxiliary_head,
                         train_cfg, test_cfg, data_preprocessor, pretrained,
                         init_cfg)
        if not 0.0 <= conf_thresh <= 1.0:
            raise ValueError(f'conf_thresh must be in [0, 1], got {conf_thresh}')
        if mix_source not in MIX_SOURCES:
            raise ValueError(f'mix_source must be one of {MIX_SOURCES}, got '
                             f'"{mix_source}"')
        if fp_decode not in FP_DECODES:
            raise ValueError(f'fp_decode must be one of {FP_DECODES}, got '
                             f'"{fp_decode}"')
        if bn_stats not in BN_STATS:
            raise ValueError(f'bn_stats must be one of {BN_STATS}, got '
                             f'"{bn_stats}"')
        if conv_init not in CONV_INITS:
            raise ValueError(f'conv_init must be one of {CONV_INITS}, got '
                             f'"{conv_init}"')
        if not strong_views:
            raise ValueError('strong_views must name at least one view')
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
            raise ValueError(
                f'loss_normalizer must be > 0, got {loss_normalizer}')
        self.loss_weights = weights
        self.loss_normalizer = float(loss_normalizer)
        self.conf_thresh = float(conf_thresh)
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
        self._check_attention_available()
        if fp_decode == 'joint' and getattr(self.feature_perturbation,
                                            'requires_attention', False):
            raise ValueError(
                "fp_decode='joint' decodes clean and perturbed features in "
                'one pass, but feature_perturbation '
                f'{type(self.feature_perturbation).__name__} needs the '
                "attention of the clean pass first; use fp_decode='separate'")
        self.channels_last = bool(channels_last)
        if self.channels_last:
            # In place, so init_weights and load_state_dict keep the format.
            for module in (self.backbone, self.decode_head,
                           getattr(self, 'neck', None),
                           getattr(self, 'auxiliary_head', None)):
                if isinstance(module, torch.nn.Module):
                    module.to(memory_format=torch.channels_last)
        # Compiled callables live in a plain dict (not registered as
        # submodules), so the state dict and checkpoints stay plain mmseg.
        self._compiled: Dict[str, Callable] = {}
        if torch_compile:
            if not isinstance(torch_compile, (bool, dict)):
                raise TypeError('torch_compile must be a bool or a dict of '
                                'torch.compile arguments, got '
                                f'{type(torch_compile).__name__}')
            options = {} if torch_compile is True else dict(torch_compile)
            self._compiled = dict(
                backbone=torch.compile(self.backbone, **options),
                decode=torch.compile(self.decode_head.forward, **options))
            if getattr(self.decode_head, 'provides_attention', False):
                self._compiled['decode_with_attention'] = torch.compile(
                    self.decode_head.forward_with_attention, **options)

    def init_weights(self) -> None:
        """mmengine's initialisation, then PyTorch's default convolution
        weights where ``conv_init='pytorch'``."""
        super().init_weights()
        if self.conv_init != 'pytorch':
            return
        for name in ('backbone', 'neck', 'decode_head', 'auxiliary_head'):
            module = getattr(self, name, None)
            init_cfg = getattr(module, 'init_cfg', None) or {}
            if not isinstance(module, torch.nn.Module) or (
                    isinstance(init_cfg, dict)
                    and init_cfg.get('type') == 'Pretrained'):
                continue
            for m in module.modules():
                if isinstance(m, torch.nn.modules.conv._ConvNd):
                    m.reset_parameters()

    # ------------------------------------------------------------------ #
    # the network, in the memory format and compiled form asked for
    # ------------------------------------------------------------------ #
    def extract_feat(self, inputs: Tensor) -> List[Tensor]:
        """Backbone (and neck) features of a batch of images."""
        if self.channels_last and inputs.dim() == 4:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        x = self._run('backbone', self.backbone, inputs)
        if self.with_neck:
            x = self.neck(x)
        return x

    def _decode_plain(self, feats) -> Tensor:
        return self._run('decode', self.decode_head, feats)

    def _run(self, name: str, eager: Callable, *args):
        compiled = self._compiled.get(name)
        if compiled is None:
            return eager(*args)
        try:
            return compiled(*args)
        except Exception as err:  # noqa: BLE001  (filtered below)
            if not _is_compile_error(err):
                raise
            first_line = (str(err).splitlines() or [''])[0]
            warnings.warn(
                'WeakToStrongSegmentor: torch.compile failed '
                f'({type(err).__name__}: {first_line}); running eagerly '
                'from now on')
            self._compiled.clear()
            return eager(*args)

    # ------------------------------------------------------------------ #
    # checks
    # ------------------------------------------------------------------ #
    def _check_attention_available(self) -> None:
        has_attention = getattr(self.decode_head, 'provides_attention', False)
        for role in ('image_perturbation', 'feature_perturbation'):
            module = getattr(self, role)
            if getattr(module, 'requires_attention', False) and not has_attention:
                raise ValueError(
                    f'{role} {type(module).__name__} is guided by attention, '
                    f'but decode_head {type(self.decode_head).__name__} does '
                    'not provide attention (use AttUNetHead with '
                    'attention=True, or the random counterpart)')

    def check_train_batches(self, batch_sizes: Dict[str, int]) -> None:
        """Called by the training loop with each branch's batch size."""
        if 'unlabeled' not in batch_sizes:
            return
        if self.image_perturbation is None:
            return
        if self.mix_source == 'batch' and batch_sizes['unlabeled'] < 2:
            raise ValueError(
                "mix_source='batch' pairs each unlabeled image with another "
                'image of its batch: the unlabeled batch size must be >= 2, '
                f"got {batch_sizes['unlabeled']}")
        if self.mix_source == 'loader':
            if 'mix' not in batch_sizes:
                raise ValueError("mix_source='loader' needs a `mix_dataloader`"
                                 ' in the config')
            if batch_sizes['mix'] != batch_sizes['unlabeled']:
                raise ValueError(
                    "mix_source='loader': the mix batch size "
                    f"({batch_sizes['mix']}) must equal the unlabeled batch "
                    f"size ({batch_sizes['unlabeled']})")

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
        n_x = x.shape[0]

        # 1. One encoder pass over labeled + weak unlabeled images (shared BN
        #    statistics). The clean decode gives the labeled logits, the weak
        #    prediction and the head's attention; with fp_decode='joint' the
        #    perturbed features of the same images are decoded in that same
        #    pass, as UniMatch does.
        feats = self.extract_feat(torch.cat([x, u_w]))
        joint_fp = (self.feature_perturbation is not None
                    and self.fp_decode == 'joint')
        if joint_fp:
            feats_fp = self.feature_perturbation(feats, None)
            feats = [torch.cat([f, g]) for f, g in zip(feats, feats_fp)]
        logits, attention = self._decode(feats)
        logits = self._to_input_size(logits, x)
        n_clean = x.shape[0] + u_w.shape[0]
        logits_fp = logits[n_clean + n_x:] if joint_fp else None
        logits_x, logits_u_w = logits[:n_x], logits[n_x:n_clean]
        att_u = _slice_attention(attention, n_x, n_clean)

        # 2. Pseudo-labels and confidences from the weak view (no gradient).
        with torch.no_grad():
            conf_u_w, pseudo_u_w = _confidence_and_label(logits_u_w)
            confident_u_w = (conf_u_w >= self.conf_thresh).float()

        # 3. Feature-level hook: decode perturbed weak-view features.
        if self.feature_perturbation is not None and not joint_fp:
            feats_u = tuple(_batch_tail(f, n_x) for f in feats)
            feats_fp = self.feature_perturbation(feats_u, _detach(att_u))
            with self._perturbed_pass():
                logits_fp = self._to_input_size(
                    self._decode_plain(feats_fp), u_w)

        # 4. Image-level hook: mix each strong view with its partner; the
        #    pseudo-labels and confidences get exactly the same mask.
        targets = self._mix_strong_views(strong, pseudo_u_w, conf_u_w,
                                         _detach(att_u), inputs)

        # 5. Strong passes, both views in one batch.
        mixed = torch.cat([t['image'] for t in targets])
        with self._perturbed_pass():
            logits_s = self._to_input_size(
                self._decode_plain(self.extract_feat(mixed)), mixed).chunk(
                    len(targets))

        # 6. Losses.
        losses = self._labeled_losses(logits_x, data_samples['labeled'])
        w = self.loss_weights
        norm = self.loss_normalizer
        for name, logit, target in zip(self.strong_views, logits_s, targets):
            loss = self.unsup_loss(
                logit, target['pseudo'],
                weight=(target['conf'] >= self.conf_thresh).float())
            losses[f'loss_{_short(name)}'] = loss * w['strong'] / len(
                targets) / norm
        if logits_fp is not None:
            loss = self.unsup_loss(logits_fp, pseudo_u_w, weight=confident_u_w)
            losses['loss_fp'] = loss * w['fp'] / norm
        losses['conf_ratio'] = confident_u_w.mean()
        if attention is not None:
            losses['att_entropy'] = _spatial_attention_entropy(att_u)
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

    @contextmanager
    def _perturbed_pass(self):
        """A strong or separate FP pass: with ``bn_stats='clean'`` its BN
        layers normalise with the batch's statistics without folding them
        into the running ones (``track_running_stats`` off for the pass)."""
        if self.bn_stats == 'all':
            yield
            return
        norms = [
            m for m in self.modules()
            if isinstance(m, _BatchNorm) and m.track_running_stats
        ]
        for m in norms:
            m.track_running_stats = False
        try:
            yield
        finally:
            for m in norms:
                m.track_running_stats = True

    def _decode(self, feats):
        """Logits and, when the head has it, its attention (else None)."""
        if getattr(self.decode_head, 'provides_attention', False):
            return self._run('decode_with_attention',
                             self.decode_head.forward_with_attention, feats)
        return self._decode_plain(feats), None

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

    def _partner(self, pseudo: Tensor, conf: Tensor,
                 att_u: Optional[List[dict]], strong: List[Tensor],
                 inputs: dict):
        """Partner images, pseudo-labels, confidences and attention."""
        if self.mix_source == 'batch':
            # A random cyclic shift pairs every image with a different one.
            # Drawn on the CPU generator: int() of it never waits for a GPU.
            n = pseudo.shape[0]
            shift = int(torch.randint(1, n, ())) if n > 1 else 0
            perm = (torch.arange(n, device=pseudo.device) + shift) % n
            return ([s[perm] for s in strong], pseudo[perm], conf[perm],
                    _index_attention(att_u, perm))
        mix = inputs.get('mix')
        if mix is None:
            raise ValueError("mix_source='loader' but the batch has no 'mix' "
                             'branch (set mix_dataloader in the config)')
        with torch.no_grad():
            was_training = self.training
            self.eval()  # UniMatch predicts its CutMix partners in eval mode
            feats = self.extract_feat(mix['weak'])
            logits, att = self._decode(feats)
            self.train(was_training)
            conf_m, pseudo_m = _confidence_and_label(
                self._to_input_size(logits, mix['weak']))
        return ([mix[name] for name in self.strong_views], pseudo_m, conf_m,
                _detach(att))

    def _mix_strong_views(self, strong: List[Tensor], pseudo: Tensor,
                          conf: Tensor, att_u: Optional[List[dict]],
                          inputs: dict) -> List[dict]:
        if self.image_perturbation is None:
            return [dict(image=s, pseudo=pseudo, conf=conf) for s in strong]
        partner_imgs, partner_pseudo, partner_conf, partner_att = \
            self._partner(pseudo, conf, att_u, strong, inputs)
        cutmix = self.image_perturbation
        targets = []
        for img, partner_img in zip(strong, partner_imgs):
            mask = cutmix.generate_mask(att_u, partner_att, img.shape,
                                        device=img.device)
            targets.append(
                dict(
                    image=cutmix.mix(mask, img, partner_img),
                    pseudo=cutmix.mix(mask, pseudo, partner_pseudo),
                    conf=cutmix.mix(mask, conf, partner_conf)))
        return targets


def _confidence_and_label(logits: Tensor):
    """Max softmax probability and arg-max class, in float32 also when the
    logits are half precision (AMP): a 0.95 threshold on bf16 confidences
    would be a threshold on 8-bit mantissas."""
    return logits.detach().float().softmax(dim=1).max(dim=1)


def _is_compile_error(err: Exception) -> bool:
    try:
        from torch._dynamo.exc import TorchDynamoException
    except ImportError:  # a torch without dynamo cannot have compiled
        return False
    return isinstance(err, TorchDynamoException)


def _short(view: str) -> str:
    return view.replace('strong', 's')


class _BatchTail(torch.autograd.Function):
    """``x[start:]`` whose gradient keeps ``x``'s memory format.

    Autograd's own slice backward makes a zero tensor in the default format;
    added to the channels-last gradient that the clean decode sends to the
    same features, it turns every encoder gradient into the default format,
    and each convolution's backward then copies it back. The values are the
    same either way.
    """

    @staticmethod
    def forward(ctx, x: Tensor, start: int) -> Tensor:
        ctx.start = start
        ctx.shape, ctx.device = x.shape, x.device
        ctx.memory_format = (
            torch.channels_last if x.dim() == 4 and not x.is_contiguous()
            and x.is_contiguous(memory_format=torch.channels_last) else
            torch.contiguous_format)
        return x[start:]

    @staticmethod
    def backward(ctx, grad: Tensor):
        full = torch.empty(
            ctx.shape,
            dtype=grad.dtype,
            device=ctx.device,
            memory_format=ctx.memory_format)
        full[:ctx.start].zero_()
        full[ctx.start:] = grad
        return full, None


def _batch_tail(x: Tensor, start: int) -> Tensor:
    """``x[start:]`` along the batch, gradient in ``x``'s memory format."""
    if not x.requires_grad:
        return x[start:]
    return _BatchTail.apply(x, start)


def _slice_attention(attention, start, stop):
    if attention is None:
        return None
    return [{k: v[start:stop] for k, v in level.items()} for level in attention]


def _index_attention(attention, index):
    if attention is None:
        return None
    return [{k: v[index] for k, v in level.items()} for level in attention]


def _detach(attention):
    if attention is None:
        return None
    return [{k: v.detach() for k, v in level.items()} for level in attention]


def _spatial_attention_entropy(attention: List[dict]) -> Tensor:
    """Mean entropy of the spatial maps seen as distributions over pixels,
    divided by its maximum log(h*w): 1 = uniform, 0 = one pixel."""
    values = []
    for level in attention:
        spatial = level['spatial'].detach().flatten(1).float()
        if spatial.shape[1] < 2:
            continue
        p = spatial / spatial.sum(dim=1, keepdim=True).clamp_min(1e-12)
        entropy = -(p * p.clamp_min(1e-12).log()).sum(dim=1)
        values.append(entropy.mean() / math.log(spatial.shape[1]))
    if not values:
        return torch.zeros(())
    return torch.stack(values).mean()
