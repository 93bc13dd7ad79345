"""WeakToStrongSegmentor on hand-made branch batches (no dataset, no Runner).

The models are the real method configs' ``model`` sections with a narrow
UNet (4..64 channels) on 32x32 inputs, so what is tested is what trains.
"""
import copy
import os.path as osp
from typing import Dict, List, Optional

import pytest
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.structures import PixelData
from torch import Tensor

import projects.aigcmatch  # noqa: F401  (compat first, then registration)
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

CONFIGS = osp.join(osp.dirname(__file__), '..', '..', 'configs')
WIDTHS = (4, 8, 16, 32, 64)
SIZE = 32
VIEWS = ('weak', 'strong1', 'strong2')
LABELED_KEYS = {'loss_x_ce', 'loss_x_dice', 'x_acc_seg'}


@pytest.fixture(autouse=True)
def seed():
    torch.manual_seed(0)


def method_model_cfg(method: str, **overrides) -> dict:
    """The ``model`` of ``configs/<method>_acdc_1case.py``, narrowed."""
    cfg = Config.fromfile(osp.join(CONFIGS, f'{method}_acdc_1case.py'))
    model = copy.deepcopy(cfg.model)  # a ConfigDict, as a Runner builds
    model['backbone']['channels'] = WIDTHS
    model['decode_head']['in_channels'] = list(WIDTHS)
    model['decode_head']['channels'] = WIDTHS[0]
    for key, value in overrides.items():
        model[key] = value  # replace, where ConfigDict.update would merge
    return model


def build(method: str = 'aigcmatch', **overrides) -> nn.Module:
    model = MODELS.build(method_model_cfg(method, **overrides))
    model.train()
    return model


def labeled_samples(n: int, size: int = SIZE) -> List[SegDataSample]:
    samples = []
    for _ in range(n):
        sample = SegDataSample(
            metainfo=dict(
                img_shape=(size, size),
                ori_shape=(size, size),
                pad_shape=(size, size)))
        sample.gt_sem_seg = PixelData(
            data=torch.randint(0, 4, (1, size, size)))
        samples.append(sample)
    return samples


def views(n: int, size: int = SIZE) -> Dict[str, Tensor]:
    # Independent random views: a mixed pixel tells which image it came from.
    return {name: torch.rand(n, 1, size, size) for name in VIEWS}


def branch_batch(n_x: int = 2, n_u: int = 2, mix: bool = False):
    """(inputs, data_samples) as MultiBranchSegDataPreProcessor returns."""
    meta = dict(img_shape=(SIZE, SIZE), ori_shape=(SIZE, SIZE))
    inputs = dict(labeled=torch.rand(n_x, 1, SIZE, SIZE), unlabeled=views(n_u))
    samples = dict(
        labeled=labeled_samples(n_x),
        unlabeled=[SegDataSample(metainfo=meta) for _ in range(n_u)])
    if mix:
        inputs['mix'] = views(n_u)
        samples['mix'] = [SegDataSample(metainfo=meta) for _ in range(n_u)]
    return inputs, samples


class RecordingLoss(nn.Module):
    """Stands in for ``unsup_loss``: records every call, then returns the
    real loss, or ``constant`` (still attached to the prediction's graph)."""

    def __init__(self, real: nn.Module, constant: Optional[float] = None):
        super().__init__()
        self.real = real
        self.constant = constant
        self.calls = []

    def forward(self, pred, target, weight=None, **kwargs):
        self.calls.append(
            dict(pred=pred, target=target.clone(), weight=weight.clone()))
        if self.constant is not None:
            return pred.sum() * 0 + self.constant
        return self.real(pred, target, weight=weight, **kwargs)


def record_unsup_loss(monkeypatch, model, constant=None) -> RecordingLoss:
    recorder = RecordingLoss(model.unsup_loss, constant)
    monkeypatch.setattr(model, 'unsup_loss', recorder)
    return recorder


def record_extract_feat(monkeypatch, model) -> list:
    """Record every encoder input with the mode and grad state it ran in."""
    calls = []
    original = model.extract_feat

    def extract_feat(inputs):
        calls.append(
            dict(
                inputs=inputs.detach().clone(),
                training=model.backbone.training,
                grad=torch.is_grad_enabled()))
        return original(inputs)

    monkeypatch.setattr(model, 'extract_feat', extract_feat)
    return calls


def fixed_masks(monkeypatch, model, masks: List[Tensor]) -> list:
    """Make the CutMix module hand out ``masks`` in turn; returns the
    attention arguments it was called with."""
    calls = []

    def generate_boxes(target_att, partner_att, image_shape, device=None):
        mask = masks[len(calls) % len(masks)]
        calls.append(dict(target=target_att, partner=partner_att))
        assert tuple(
            mask.shape) == (image_shape[0], ) + tuple(image_shape[-2:])
        return mask.clone(), torch.zeros(mask.shape[0], 2, dtype=torch.long)

    monkeypatch.setattr(model.image_perturbation, 'generate_boxes',
                        generate_boxes)
    return calls


def box_masks(n: int, top: int, left: int) -> Tensor:
    mask = torch.zeros(n, SIZE, SIZE, dtype=torch.bool)
    for i in range(n):  # a different box per sample
        mask[i, top + i:top + i + 9, left:left + 12 + 2 * i] = True
    return mask


def unsup_total(losses: dict) -> Tensor:
    return sum(v for k, v in losses.items()
               if k in ('loss_s1', 'loss_s2', 'loss_fp'))


# --------------------------------------------------------------------- #
# losses dict
# --------------------------------------------------------------------- #
CONF_KEYS = {'conf_ratio'} | {f'conf_ratio_c{k}' for k in range(4)}
BOX_KEYS = {'box_fg', 'box_fg_random'}
EXPECTED_KEYS = dict(
    aigcmatch=LABELED_KEYS | CONF_KEYS | BOX_KEYS
    | {'loss_s1', 'loss_s2', 'loss_fp', 'att_auc', 'att_entropy', 'box_iou',
       'fp_flip'},
    unimatch=LABELED_KEYS | CONF_KEYS | BOX_KEYS
    | {'loss_s1', 'loss_s2', 'loss_fp', 'box_iou', 'fp_flip'},
    fixmatch=LABELED_KEYS | CONF_KEYS | BOX_KEYS | {'loss_s1'})


@pytest.mark.parametrize('method', sorted(EXPECTED_KEYS))
def test_loss_keys_per_method_and_mmengine_total(method):
    model = build(method, conf_thresh=0.0)
    losses = model.loss(*branch_batch(mix=model.mix_source == 'loader'))
    assert set(losses) == EXPECTED_KEYS[method]
    assert all(torch.isfinite(v).all() for v in losses.values())
    assert float(losses['conf_ratio']) == 1.0  # threshold 0: all pixels
    if 'att_entropy' in losses:
        assert 0.0 < float(losses['att_entropy']) <= 1.0

    total, log_vars = model.parse_losses(losses)
    terms = [v for k, v in losses.items() if k.startswith('loss_')]
    torch.testing.assert_close(total, sum(terms))
    # Monitoring values are logged but never back-propagated.
    assert {'conf_ratio', 'x_acc_seg'} <= set(log_vars)
    total.backward()
    assert model.backbone.parameters().__next__().grad is not None


def test_plain_batch_trains_the_supervised_loss_only():
    model = build('supbaseline')
    assert model.image_perturbation is None
    assert model.feature_perturbation is None
    inputs = torch.rand(2, 1, SIZE, SIZE)
    losses = model.loss(inputs, labeled_samples(2))
    assert set(losses) == {
        'decode.loss_ce', 'decode.loss_dice', 'decode.acc_seg'
    }
    assert all(torch.isfinite(v) for v in losses.values())


@pytest.mark.parametrize(
    'method, overrides, expected',
    [
        # UniMatch: (loss_x + 0.25 s1 + 0.25 s2 + 0.5 fp) / 2; the head's
        # (CE + Dice) / 2 is inside loss_x.
        ('aigcmatch', {},
         dict(
             loss_x_ce=0.5,
             loss_x_dice=1.5,
             loss_s1=0.125,
             loss_s2=0.125,
             loss_fp=0.25)),
        ('aigcmatch',
         dict(
             loss_weights=dict(labeled=2.0, strong=1.0, fp=0.25),
             loss_normalizer=1.0),
         dict(
             loss_x_ce=2.0,
             loss_x_dice=6.0,
             loss_s1=0.5,
             loss_s2=0.5,
             loss_fp=0.25)),
        # FixMatch: (loss_x + loss_s1) / 2.
        ('fixmatch', {}, dict(loss_x_ce=0.5, loss_x_dice=1.5, loss_s1=0.5)),
    ])
def test_weighted_terms(monkeypatch, method, overrides, expected):
    model = build(method, conf_thresh=0.0, **overrides)

    def loss_by_feat(logits, samples):
        zero = logits.sum() * 0  # stays on the graph like a real loss
        return dict(
            loss_ce=zero + 1.0, loss_dice=zero + 3.0, acc_seg=zero + 50.0)

    monkeypatch.setattr(model.decode_head, 'loss_by_feat', loss_by_feat)
    record_unsup_loss(monkeypatch, model, constant=1.0)
    losses = model.loss(*branch_batch())
    got = {
        k: float(v.detach())
        for k, v in losses.items() if k.startswith('loss_')
    }
    assert got == pytest.approx(expected)
    assert float(losses['x_acc_seg']) == 50.0  # not scaled
    total, _ = model.parse_losses(losses)
    assert float(total) == pytest.approx(sum(expected.values()))


# --------------------------------------------------------------------- #
# confidence threshold
# --------------------------------------------------------------------- #
def test_conf_thresh_one_masks_every_pixel_and_gradient():
    model = build('aigcmatch', conf_thresh=1.0)
    losses = model.loss(*branch_batch())
    assert float(losses['conf_ratio']) == 0.0
    unsup = unsup_total(losses)
    assert float(unsup) == 0.0
    params = [p for p in model.parameters() if p.requires_grad]
    grads = torch.autograd.grad(unsup, params, allow_unused=True)
    assert all(g is None or not g.any() for g in grads)


def test_conf_thresh_zero_gives_unlabeled_loss_and_gradient():
    model = build('aigcmatch', conf_thresh=0.0)
    losses = model.loss(*branch_batch())
    for key in ('loss_s1', 'loss_s2', 'loss_fp'):
        assert float(losses[key]) > 0
    params = [p for p in model.parameters() if p.requires_grad]
    grads = torch.autograd.grad(unsup_total(losses), params, allow_unused=True)
    assert any(g is not None and g.abs().sum() > 0 for g in grads)


# --------------------------------------------------------------------- #
# mixing: images, pseudo-labels and confidences share one mask
# --------------------------------------------------------------------- #
def design_weak_prediction(monkeypatch, model, n_x: int, plan, mix_plan=()):
    """Replace the head's clean logits for the unlabeled images by logits
    with a known class and margin per sample (``plan``: (class, margin)).
    ``mix_plan`` does the same for a batch of only ``len(mix_plan)`` images
    (the partner pass of mix_source='loader')."""
    original = model._decode  # the clean and the partner passes' decode

    def decode(feats):
        logits, attention = original(feats)
        design = torch.zeros_like(logits)
        # the clean images, alone or followed by their perturbed features
        if logits.shape[0] in (n_x + len(plan), 2 * (n_x + len(plan))):
            rows = [(n_x + i, c, m) for i, (c, m) in enumerate(plan)]
        elif logits.shape[0] == len(mix_plan):
            rows = [(i, c, m) for i, (c, m) in enumerate(mix_plan)]
        else:
            raise AssertionError(f'unexpected batch {logits.shape[0]}')
        for i, cls, margin in rows:
            design[i, cls] = margin
        return logits * 0 + design, attention

    monkeypatch.setattr(model, '_decode', decode)


def test_pseudo_labels_and_confidences_get_the_images_mask(monkeypatch):
    n_x, n_u = 2, 3
    model = build('aigcmatch', conf_thresh=0.9)
    # Sample 1's confidence e / (e + 3) = 0.48 is below the threshold.
    plan = [(1, 10.0), (2, 1.0), (3, 10.0)]
    design_weak_prediction(monkeypatch, model, n_x, plan)
    pseudo = torch.tensor([c for c, _ in plan])
    keep = torch.tensor([1.0, 0.0, 1.0])
    masks = [box_masks(n_u, 2, 3), box_masks(n_u, 15, 10)]
    mask_calls = fixed_masks(monkeypatch, model, masks)
    encoder_calls = record_extract_feat(monkeypatch, model)
    loss_calls = record_unsup_loss(monkeypatch, model).calls
    inputs, samples = branch_batch(n_x, n_u)

    model.loss(inputs, samples)

    assert len(mask_calls) == 2 and len(loss_calls) == 3
    mixed_views = encoder_calls[-1]['inputs'].chunk(2)  # the strong pass
    for v, name in enumerate(('strong1', 'strong2')):
        strong = inputs['unlabeled'][name]
        mixed, mask = mixed_views[v], masks[v]
        target, weight = loss_calls[v]['target'], loss_calls[v]['weight']
        partners = []
        for i in range(n_u):
            m = mask[i]
            # The image: partner j inside the box, itself outside.
            torch.testing.assert_close(mixed[i, 0, ~m], strong[i, 0, ~m])
            match = [
                j for j in range(n_u)
                if torch.equal(mixed[i, 0, m], strong[j, 0, m])
            ]
            assert len(match) == 1 and match[0] != i
            j = match[0]
            partners.append(j)
            # Its pseudo-label and confidence mask: the same box, partner.
            assert (target[i][m] == pseudo[j]).all()
            assert (target[i][~m] == pseudo[i]).all()
            assert (weight[i][m] == keep[j]).all()
            assert (weight[i][~m] == keep[i]).all()
        # The partner's attention map is what places the box.
        att = mask_calls[v]
        assert att['partner'].shape == (n_u, 1, SIZE, SIZE)
        torch.testing.assert_close(att['partner'], att['target'][partners])
    # The FP branch learns from the unmixed pseudo-labels.
    fp = loss_calls[2]
    assert (fp['target'] == pseudo[:, None, None]).all()
    assert (fp['weight'] == keep[:, None, None]).all()


def test_batch_partner_is_never_the_image_itself(monkeypatch):
    n_u = 4
    model = build('aigcmatch', conf_thresh=0.0)
    fixed_masks(monkeypatch, model,
                [torch.ones(n_u, SIZE, SIZE, dtype=torch.bool)])
    encoder_calls = record_extract_feat(monkeypatch, model)
    pairings = set()
    with torch.no_grad():
        for _ in range(8):
            inputs, samples = branch_batch(1, n_u)
            model.loss(inputs, samples)
            mixed = encoder_calls[-1]['inputs'].chunk(2)
            for v, name in enumerate(('strong1', 'strong2')):
                strong = inputs['unlabeled'][name]
                partner = []
                for i in range(n_u):
                    match = [
                        j for j in range(n_u)
                        if torch.equal(mixed[v][i], strong[j])
                    ]
                    assert len(match) == 1 and match[0] != i
                    partner.append(match[0])
                pairings.add(tuple(partner))
    assert len(pairings) > 1  # the pairing is drawn, not fixed


def test_loader_partner_pass_is_eval_and_no_grad(monkeypatch):
    n_x, n_u = 2, 2
    model = build('aigcmatch', conf_thresh=0.0, mix_source='loader')
    design_weak_prediction(
        monkeypatch,
        model,
        n_x,
        plan=[(1, 10.0), (1, 10.0)],
        mix_plan=[(3, 10.0), (2, 10.0)])
    fixed_masks(monkeypatch, model,
                [torch.ones(n_u, SIZE, SIZE, dtype=torch.bool)])
    encoder_calls = record_extract_feat(monkeypatch, model)
    loss_calls = record_unsup_loss(monkeypatch, model).calls
    inputs, samples = branch_batch(n_x, n_u, mix=True)

    model.loss(inputs, samples)

    partner_calls = [
        c for c in encoder_calls
        if torch.equal(c['inputs'], inputs['mix']['weak'])
    ]
    assert len(partner_calls) == 1
    assert not partner_calls[0]['training'] and not partner_calls[0]['grad']
    others = [c for c in encoder_calls if c is not partner_calls[0]]
    assert all(c['training'] and c['grad'] for c in others)
    assert model.training and all(m.training for m in model.modules())
    # A full box: the strong passes see the mix loader's strong views and
    # learn its pseudo-labels.
    mixed = encoder_calls[-1]['inputs'].chunk(2)
    torch.testing.assert_close(mixed[0], inputs['mix']['strong1'])
    torch.testing.assert_close(mixed[1], inputs['mix']['strong2'])
    for call in loss_calls[:2]:
        assert (call['target'][0] == 3).all() and (call['target'][1]
                                                   == 2).all()


def test_loader_partner_needs_a_mix_branch():
    model = build('aigcmatch', mix_source='loader')
    with pytest.raises(ValueError, match="no 'mix' branch"):
        model.loss(*branch_batch())


# --------------------------------------------------------------------- #
# prediction
# --------------------------------------------------------------------- #
def test_predict_returns_original_size_like_encoder_decoder():
    model = build('aigcmatch').eval()
    inputs = torch.rand(2, 1, SIZE, SIZE)
    ori_shapes = [(20, 28), (36, 24)]
    samples = [
        SegDataSample(
            metainfo=dict(
                img_shape=(SIZE, SIZE), pad_shape=(SIZE, SIZE), ori_shape=s))
        for s in ori_shapes
    ]
    metas = [s.metainfo for s in samples]
    with torch.no_grad():
        results = model.predict(inputs, samples)
        logits = model.encode_decode(inputs, metas)
    for i, (result, shape) in enumerate(zip(results, ori_shapes)):
        assert result.pred_sem_seg.data.shape == (1, ) + shape
        assert result.seg_logits.data.shape == (4, ) + shape
        expected = resize(
            logits[i:i + 1], size=shape, mode='bilinear',
            align_corners=False)[0]
        torch.testing.assert_close(result.seg_logits.data, expected)
        assert torch.equal(result.pred_sem_seg.data[0], expected.argmax(0))


# --------------------------------------------------------------------- #
# bad input
# --------------------------------------------------------------------- #
@pytest.mark.parametrize('value', [-0.1, 1.5])
def test_conf_thresh_outside_unit_interval(value):
    with pytest.raises(
            ValueError,
            match=r'conf_thresh must be a number in \[0, 1\], one per '
            'class'):
        build('aigcmatch', conf_thresh=value)


def test_unknown_mix_source():
    with pytest.raises(ValueError, match='mix_source must be one of .*"pair"'):
        build('aigcmatch', mix_source='pair')


def test_unknown_loss_weights_key():
    with pytest.raises(
            ValueError,
            match=r"unknown loss_weights keys \['strong1'\]; expected "
            r"\['fp', 'labeled', 'strong'\]"):
        build('aigcmatch', loss_weights=dict(labeled=1.0, strong1=0.25))


@pytest.mark.parametrize(
    'overrides', [
        dict(loss_normalizer=0.0),
        dict(loss_normalizer=-2.0),
        dict(loss_weights=dict(labeled=1.0, strong=-0.5, fp=0.5)),
    ],
    ids=['normalizer0', 'normalizer-2', 'weight-0.5'])
def test_non_positive_loss_scaling_is_refused(overrides):
    # 0 would fail at the first step, a negative value would silently turn
    # the loss into gradient ascent
    with pytest.raises(ValueError,
                       match=r'loss_normalizer must be > 0|loss_weights must '
                       r'be >= 0'):
        build('aigcmatch', **overrides)


def test_no_strong_views():
    with pytest.raises(ValueError, match='strong_views must name at least'):
        build('aigcmatch', strong_views=())


@pytest.mark.parametrize('role, perturbation', [
    ('feature_perturbation', dict(type='AttFeaPerb')),
    ('image_perturbation', dict(type='AttCutMix')),
])
def test_attention_perturbation_needs_attention_head(role, perturbation):
    # UniMatch's head has no attention.
    with pytest.raises(
            ValueError,
            match=f'{role} {perturbation["type"]} is guided by attention, '
            'but there is no attention_source and decode_head AttUNetHead '
            'does not provide attention'):
        build('unimatch', **{role: perturbation})


def test_branched_batch_without_unlabeled_branch():
    model = build('aigcmatch')
    inputs, samples = branch_batch()
    del inputs['unlabeled']
    with pytest.raises(ValueError, match='needs an "unlabeled" branch'):
        model.loss(inputs, samples)


def test_check_train_batches():
    batch_model = build('aigcmatch', mix_source='batch')
    with pytest.raises(ValueError, match='batch size must be >= 2, got 1'):
        batch_model.check_train_batches(dict(labeled=2, unlabeled=1))
    batch_model.check_train_batches(dict(labeled=1, unlabeled=2))
    loader_model = build('aigcmatch', mix_source='loader')
    with pytest.raises(ValueError, match='needs a `mix_dataloader`'):
        loader_model.check_train_batches(dict(labeled=2, unlabeled=2))
    with pytest.raises(
            ValueError,
            match=r'mix batch size \(3\) must equal the '
            r'unlabeled batch size \(2\)'):
        loader_model.check_train_batches(dict(labeled=2, unlabeled=2, mix=3))
    loader_model.check_train_batches(dict(labeled=2, unlabeled=1, mix=1))
    # Without CutMix there is no partner, so any unlabeled batch works.
    no_mix = build('aigcmatch', image_perturbation=None)
    no_mix.check_train_batches(dict(labeled=2, unlabeled=1))


# --------------------------------------------------------------------- #
# UniMatch's way: joint FP decode, BN running statistics, train branches
# --------------------------------------------------------------------- #
def test_joint_fp_decode_is_one_decoder_pass_over_clean_and_perturbed():
    model = build('unimatch', fp_decode='joint', mix_source='batch')
    batches = []
    original = model.decode_head.forward

    def forward(feats):
        batches.append(feats[0].shape[0])
        return original(feats)

    model.decode_head.forward = forward
    model.loss(*branch_batch(n_x=2, n_u=3))
    # clean + perturbed features of the 2 labeled and 3 weak images in one
    # pass, then both strong views (2 x 3) in another: no separate FP pass.
    assert batches == [10, 6]


def test_joint_fp_with_an_identity_perturbation_repeats_the_clean_logits():
    model = build('unimatch', fp_decode='joint', mix_source='batch')
    model.feature_perturbation.p = 0.0
    outputs = []
    original = model.decode_head.forward

    def forward(feats):
        outputs.append(original(feats))
        return outputs[-1]

    model.decode_head.forward = forward
    model.loss(*branch_batch(n_x=2, n_u=2))
    clean, perturbed = outputs[0].chunk(2)
    # Identical halves give the decoder's BN the same batch statistics as
    # the clean half alone, so the perturbed half is the clean one again.
    torch.testing.assert_close(perturbed, clean)


@pytest.mark.parametrize('source, grad', [('PredictionAttention', False),
                                          ('GradCAMAttention', True)])
def test_joint_fp_guided_perturbation_reads_a_pre_decode(source, grad):
    model = build('aigcmatch', fp_decode='joint', bn_stats='clean',
                  attention_source=dict(type=source))
    calls = []
    original = model.decode_head.forward

    def forward(feats):
        out = original(feats)
        calls.append((feats[0].shape[0], torch.is_grad_enabled()))
        return out

    model.decode_head.forward = forward
    seen = []
    perturb = model.feature_perturbation.forward

    def spy(feats, attention):
        seen.append(attention)
        return perturb(feats, attention)

    model.feature_perturbation.forward = spy
    model.loss(*branch_batch(n_x=2, n_u=3))
    # the 5 clean images decoded for the attention (with gradients only for
    # Grad-CAM), then clean + perturbed in one pass, then the two strong
    # views (2 x 3)
    assert calls == [(5, grad), (10, True), (6, True)]
    assert seen[0]['spatial'].shape[0] == 5
    assert all(c is None or c.shape[0] == 5 for c in seen[0]['channel'])
    # the pre-decode leaves the running BN statistics alone
    assert {int(m.num_batches_tracked) for m in model.modules()
            if isinstance(m, nn.BatchNorm2d)} == {1}


def test_gradient_attention_refuses_the_no_grad_loader_partner():
    with pytest.raises(ValueError,
                       match="GradCAMAttention needs gradients.*'loader'"):
        build('aigcmatch', mix_source='loader',
              attention_source=dict(type='GradCAMAttention'))


def running_stats(model) -> List[Tensor]:
    return [
        t.clone() for m in model.modules() if isinstance(m, nn.BatchNorm2d)
        for t in (m.running_mean, m.running_var)
    ]


@pytest.mark.parametrize('bn_stats', ['clean', 'all'])
def test_bn_running_stats_follow_the_clean_pass_unless_asked(bn_stats):
    inputs, samples = branch_batch(n_x=2, n_u=2)
    # Reference: the running statistics after the clean pass alone.
    torch.manual_seed(0)
    ref = build('unimatch', bn_stats=bn_stats, mix_source='batch',
                fp_decode='separate')
    torch.manual_seed(0)
    feats = ref.extract_feat(
        torch.cat([inputs['labeled'], inputs['unlabeled']['weak']]))
    ref.decode_head(feats)

    torch.manual_seed(0)
    model = build('unimatch', bn_stats=bn_stats, mix_source='batch',
                fp_decode='separate')
    torch.manual_seed(0)
    model.loss(inputs, samples)
    after, clean_only = running_stats(model), running_stats(ref)
    same = all(torch.allclose(a, b) for a, b in zip(after, clean_only))
    num_tracked = [int(m.num_batches_tracked) for m in model.modules()
                   if isinstance(m, nn.BatchNorm2d)]
    if bn_stats == 'clean':
        assert same
        assert set(num_tracked) == {1}
        # the flag is restored after the perturbed passes
        assert all(m.track_running_stats for m in model.modules()
                   if isinstance(m, nn.BatchNorm2d))
    else:
        assert not same
        assert max(num_tracked) > 1


@pytest.mark.parametrize('mix_source, branches', [
    ('batch', ('labeled', 'unlabeled')),
    ('loader', ('labeled', 'unlabeled', 'mix')),
])
def test_train_branches(mix_source, branches):
    assert build('unimatch', mix_source=mix_source).train_branches == branches
    no_mix = build('unimatch', mix_source=mix_source, image_perturbation=None)
    assert no_mix.train_branches == ('labeled', 'unlabeled')


@pytest.mark.parametrize('conv_init', ['kaiming', 'pytorch'])
def test_conv_init(conv_init):
    model = build('unimatch', conv_init=conv_init)
    model.init_weights()
    conv = model.backbone.levels[2][0].conv  # 3x3, 8 -> 16 channels
    fan_in, fan_out = 8 * 9, 16 * 9
    std = float(conv.weight.std())
    if conv_init == 'pytorch':  # kaiming_uniform_(a=sqrt(5)): 1/sqrt(3 fan_in)
        assert std == pytest.approx(1 / (3 * fan_in)**0.5, rel=0.15)
        bound = 1 / fan_in**0.5
        assert float(conv.weight.abs().max()) <= bound
        # the head's output conv too (mmseg's default would be N(0, 0.01))
        assert float(model.decode_head.conv_seg.weight.std()) > 0.02
    else:  # mmcv's kaiming_init: normal, fan_out, leaky_relu
        assert std == pytest.approx((2 / fan_out)**0.5, rel=0.15)
        assert float(model.decode_head.conv_seg.weight.std()) == \
            pytest.approx(0.01, rel=0.2)
    with pytest.raises(ValueError, match='conv_init must be one of'):
        build('unimatch', conv_init='xavier')


# confidences e^a / (e^a + 3): 0.87 (class 1), 0.48 (class 2), 0.99
THRESHOLD_PLAN = [(1, 3.0), (2, 1.0), (3, 6.0)]


def step_with_plan(monkeypatch, model, plan, n_x: int = 2):
    """One step whose weak-view prediction follows ``plan``; the losses and
    each unlabeled sample's mean confidence weight in the (unmixed) FP
    term."""
    design_weak_prediction(monkeypatch, model, n_x, plan)
    loss_calls = record_unsup_loss(monkeypatch, model).calls
    losses = model.loss(*branch_batch(n_x, len(plan)))
    weight = loss_calls[-1]['weight']
    return losses, [float(w.mean()) for w in weight]


def test_per_class_thresholds(monkeypatch):
    model = build('aigcmatch', conf_thresh=[0.9, 0.9, 0.4, 0.9],
                  image_perturbation=None)
    losses, weights = step_with_plan(monkeypatch, model, THRESHOLD_PLAN)
    # class 1 misses its 0.9, class 2 passes its 0.4, class 3 passes
    assert weights == [0.0, 1.0, 1.0]
    assert float(losses['conf_ratio_c1']) == 0.0
    assert float(losses['conf_ratio_c2']) == 1.0
    for bad in ([0.9, 0.9], [0.5, 0.5, 0.5, 1.5], 'high'):
        with pytest.raises(ValueError, match='one per class'):
            build('aigcmatch', conf_thresh=bad)


def test_class_adaptive_thresholds_in_the_step(monkeypatch):
    model = build('aigcmatch', image_perturbation=None,
                  conf_thresh=dict(type='ClassAdaptiveThreshold'))
    # the first batch sets each class's average: thresholds 0.95 * conf / 0.99
    losses, weights = step_with_plan(monkeypatch, model, THRESHOLD_PLAN)
    # class 1 passes its lowered threshold (0.83; a fixed 0.95 drops it),
    # class 2 stays under the floor 0.5, class 3 passes 0.95
    assert weights == [1.0, 0.0, 1.0]
    conf = [torch.tensor(m).exp() / (torch.tensor(m).exp() + 3)
            for m in (3.0, 6.0)]
    expected = 0.95 * conf[0] / conf[1]
    assert float(losses['thresh_c1']) == pytest.approx(float(expected))
    assert float(losses['thresh_c2']) == 0.5
    assert float(losses['thresh_c3']) == pytest.approx(0.95)
    assert float(losses['thresh_c0']) == pytest.approx(0.95)  # not seen
    state = model.state_dict()
    assert bool(state['conf_threshold.seen'][1:].all())
    assert not bool(state['conf_threshold.seen'][0])


def test_eval_pass_pseudo_labels(monkeypatch):
    model = build('aigcmatch', pseudo_label_pass='eval',
                  image_perturbation=None)
    encoder_calls = record_extract_feat(monkeypatch, model)
    model.loss(*branch_batch(2, 3))
    # clean pass (train), the weak view again in eval mode without grad
    assert [(c['training'], c['grad'], c['inputs'].shape[0])
            for c in encoder_calls[:2]] == [(True, True, 5), (False, False, 3)]
    assert model.training
    with pytest.raises(ValueError, match='pseudo_label_pass must be one of'):
        build('aigcmatch', pseudo_label_pass='teacher')


@pytest.mark.parametrize('source', [
    dict(type='PredictionAttention'),
    dict(type='GradCAMAttention'),
])
def test_attention_sources_guide_a_plain_network(source):
    # No attention modules: the maps come from the prediction / gradients.
    model = build('aigcmatch', attention_source=source,
                  decode_head=dict(method_model_cfg('aigcmatch')
                                   ['decode_head'], attention=False))
    assert model.decode_head.attentions is None
    losses = model.loss(*branch_batch(2, 3))
    assert 0.0 <= float(losses['att_auc']) <= 1.0
    total, _ = model.parse_losses(losses)
    total.backward()
    with pytest.raises(ValueError, match="reads the head's attention"):
        build('aigcmatch', attention_source=dict(type='HeadAttention'),
              decode_head=dict(method_model_cfg('aigcmatch')['decode_head'],
                               attention=False))


def test_translating_cutmix_in_the_step(monkeypatch):
    model = build('aigcmatch', image_perturbation=dict(
        type='AttCutMix', prob=1.0, paste='target_least'))
    losses = model.loss(*branch_batch(2, 3))
    assert 0.0 <= float(losses['box_fg']) <= 1.0
