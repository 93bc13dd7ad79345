"""The speed work of issue 7 changes how the step runs, not what it computes:
channels-last, torch.compile (with its fallback), autocast dtypes, and the
leaner AttFeaPerb / accuracy code, each against the plain computation."""
import copy
import os.path as osp
import warnings

import pytest
import torch
from mmengine.config import Config
from mmengine.structures import PixelData

import projects.aigcmatch  # noqa: F401  (compat first, then registration)
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.losses import accuracy
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample
from projects.aigcmatch.models.decode_heads.att_unet_head import \
    pixel_accuracy
from projects.aigcmatch.models.perturbations import drop_channels

CONFIG = osp.join(
    osp.dirname(__file__), '..', '..', 'configs', 'aigcmatch_acdc_7case.py')
WIDTHS = (4, 8, 16, 32)
SIZE = 32


def model_cfg(widths=WIDTHS, **overrides) -> dict:
    model = copy.deepcopy(Config.fromfile(CONFIG).model)
    model['backbone'].update(channels=widths, dropout=(0.0, ) * len(widths))
    model['decode_head'].update(in_channels=list(widths),
                                in_index=list(range(len(widths))),
                                channels=widths[0])
    model.update(overrides)
    return model


def build(widths=WIDTHS, **overrides):
    torch.manual_seed(0)
    model = MODELS.build(model_cfg(widths, **overrides))
    model.init_weights()
    return model.train()


def batch(n=2):
    g = torch.Generator().manual_seed(3)
    samples = []
    for _ in range(n):
        sample = SegDataSample(metainfo=dict(img_shape=(SIZE, SIZE),
                                             ori_shape=(SIZE, SIZE)))
        sample.gt_sem_seg = PixelData(
            data=torch.randint(0, 4, (1, SIZE, SIZE), generator=g))
        samples.append(sample)
    inputs = dict(
        labeled=torch.rand(n, 1, SIZE, SIZE, generator=g),
        unlabeled={
            v: torch.rand(n, 1, SIZE, SIZE, generator=g)
            for v in ('weak', 'strong1', 'strong2')
        })
    meta = dict(img_shape=(SIZE, SIZE), ori_shape=(SIZE, SIZE))
    return inputs, dict(
        labeled=samples,
        unlabeled=[SegDataSample(metainfo=meta) for _ in range(n)])


def total_and_grads(model):
    inputs, samples = batch()
    torch.manual_seed(7)  # same CutMix boxes and channel drops
    losses = model.loss(inputs, samples)
    total = sum(v for k, v in losses.items() if k.startswith('loss'))
    model.zero_grad()
    total.backward()
    return losses, {
        k: p.grad.clone()
        for k, p in model.named_parameters() if p.grad is not None
    }


def test_base_config_switches_on_channels_last_only():
    cfg = Config.fromfile(CONFIG)
    assert cfg.model.channels_last is True
    assert cfg.model.torch_compile is False
    assert cfg.model.data_preprocessor.mean is None  # (x - 0) / 1 skipped


def test_channels_last_same_losses_and_gradients():
    # float64, so that the two memory formats differ only by rounding far
    # below what the check tolerates (in float32, BN on a 2-image batch
    # amplifies the layouts' different summation orders to ~2 % of a
    # gradient); conf_thresh 0 so the unlabeled losses and the guided
    # perturbations take part.
    default = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        plain = build(channels_last=False, conf_thresh=0.0)
        fast = build(channels_last=True, conf_thresh=0.0)
        fast.load_state_dict(plain.state_dict())
        conv = fast.backbone.levels[1][0].conv.weight
        assert conv.is_contiguous(memory_format=torch.channels_last)
        assert not plain.backbone.levels[1][0].conv.weight.is_contiguous(
            memory_format=torch.channels_last)
        feats = fast.extract_feat(torch.rand(2, 1, SIZE, SIZE))
        assert feats[1].is_contiguous(memory_format=torch.channels_last)

        losses_p, grads_p = total_and_grads(plain)
        losses_f, grads_f = total_and_grads(fast)
    finally:
        torch.set_default_dtype(default)
    assert losses_p.keys() == losses_f.keys()
    assert all(losses_p[k] > 0 for k in ('loss_s1', 'loss_s2', 'loss_fp'))
    for key in losses_p:
        torch.testing.assert_close(losses_f[key], losses_p[key],
                                   rtol=1e-9, atol=1e-12)
    for key in grads_p:
        torch.testing.assert_close(grads_f[key], grads_p[key],
                                   rtol=1e-7, atol=1e-10)
    # the state dict stays loadable by a plain model (checkpoints)
    plain.load_state_dict(fast.state_dict())


def test_compile_with_tracing_backend_matches_eager():
    # two levels: dynamo's tracing time grows with the number of operators
    eager = build((4, 8), channels_last=False)
    compiled = build((4, 8), channels_last=False,
                     torch_compile=dict(backend='eager'))
    compiled.load_state_dict(eager.state_dict())
    # the head's attention decode too when the head has attention modules
    expected = {'backbone', 'decode'} | (
        {'decode_with_attention'}
        if compiled.decode_head.provides_attention else set())
    assert set(compiled._compiled) == expected
    assert 'torch_compile' not in str(list(compiled.state_dict()))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        losses_c, _ = total_and_grads(compiled)
    assert not [w for w in caught if 'torch.compile failed' in str(w.message)]
    losses_e, _ = total_and_grads(eager)
    assert set(compiled._compiled) == expected  # nothing fell back to eager
    for key in losses_e:
        torch.testing.assert_close(losses_c[key], losses_e[key])


def test_compile_failure_falls_back_to_eager(monkeypatch):
    from torch._dynamo.exc import TorchRuntimeError

    def broken_compile(fn, **kwargs):
        def run(*args, **kw):
            raise TorchRuntimeError('no C++ compiler found')
        return run

    monkeypatch.setattr(torch, 'compile', broken_compile)
    model = build(channels_last=False, torch_compile=True)
    reference = build(channels_last=False)
    with pytest.warns(UserWarning, match='torch.compile failed .*running '
                      'eagerly'):
        losses, _ = total_and_grads(model)
    assert model._compiled == {}
    expected, _ = total_and_grads(reference)
    for key in expected:
        torch.testing.assert_close(losses[key], expected[key])


def test_compile_does_not_hide_real_errors(monkeypatch):
    def failing_compile(fn, **kwargs):
        def run(*args, **kw):
            raise ValueError('a real bug')
        return run

    monkeypatch.setattr(torch, 'compile', failing_compile)
    model = build(torch_compile=True)
    with pytest.raises(ValueError, match='a real bug'):
        total_and_grads(model)


def test_torch_compile_must_be_bool_or_dict():
    with pytest.raises(TypeError, match='torch_compile must be a bool or a '
                       'dict'):
        build(torch_compile='max-autotune')


def test_bf16_autocast_step_keeps_losses_and_confidences_fp32(monkeypatch):
    model = build()
    weights = []
    real = model.unsup_loss.forward

    def record(pred, target, weight=None, **kwargs):
        weights.append(weight)
        return real(pred, target, weight=weight, **kwargs)

    monkeypatch.setattr(model.unsup_loss, 'forward', record)
    inputs, samples = batch()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        losses = model.loss(inputs, samples)
    for key, value in losses.items():
        assert value.dtype == torch.float32, key
        assert torch.isfinite(value).all(), key
    assert len(weights) == 3 and all(w.dtype == torch.float32
                                     for w in weights)
    sum(v for k, v in losses.items() if k.startswith('loss')).backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters()
               if p.grad is not None)


def test_drop_channels_on_bf16_uses_exact_probabilities():
    torch.manual_seed(0)
    feat = torch.ones(4000, 8, 1, 1, dtype=torch.bfloat16)
    out = drop_channels(feat, torch.full((4000, 8), 0.7))
    assert out.dtype == torch.bfloat16
    dropped = (out == 0).float().mean()
    assert abs(dropped - 0.7) < 0.01
    kept = out[out != 0].float()
    assert torch.allclose(kept, torch.full_like(kept, 1 / 0.3), rtol=1e-2)


def test_drop_probabilities_equal_the_ranking_definition():
    perb = MODELS.build(dict(type='AttFeaPerb', ratio=0.5, p_strong=0.9,
                             p_weak=0.1))
    for channels in (1, 4, 16, 33):
        att = torch.rand(6, channels)
        rank = att.argsort(dim=1, descending=True).argsort(dim=1)
        expected = torch.where(rank < round(0.5 * channels), 0.9, 0.1)
        assert torch.equal(perb.drop_probabilities(att), expected)
    # ratio 0: no strong channel, every channel dropped with p_weak
    none = MODELS.build(dict(type='AttFeaPerb', ratio=0.0, p_weak=0.3))
    assert (none.drop_probabilities(torch.rand(2, 8)) == 0.3).all()


@pytest.mark.parametrize('ignore_index', [None, 255])
def test_pixel_accuracy_equals_mmseg_accuracy(ignore_index):
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 4, 9, 7, generator=g)
    labels = torch.randint(0, 4, (3, 9, 7), generator=g)
    labels[0, :3] = 255 if ignore_index else 0
    torch.testing.assert_close(
        pixel_accuracy(logits, labels, ignore_index),
        accuracy(logits, labels, ignore_index=ignore_index))


def test_head_losses_equal_base_decode_head():
    model = build()
    head = model.decode_head
    _, samples = batch(3)
    logits = torch.randn(3, 4, SIZE // 2, SIZE // 2)  # resized to the label
    ours = head.loss_by_feat(logits, samples['labeled'])
    base = BaseDecodeHead.loss_by_feat(head, logits, samples['labeled'])
    assert ours.keys() == base.keys()
    for key in base:
        torch.testing.assert_close(ours[key], base[key])


def test_step_reads_no_tensor_value_on_the_host(monkeypatch):
    """``model.loss`` of the config never turns a tensor into a Python value
    (on a GPU each would make the host wait): bool/int/float/item/tolist are
    counted by call site. The only one allowed is the CutMix partner shift,
    drawn from the CPU generator on purpose."""
    model = build()
    inputs, samples = batch(3)
    sites = []

    def spy(name):
        original = getattr(torch.Tensor, name)

        def wrapper(self, *args, **kwargs):
            import traceback
            frame = traceback.extract_stack(limit=2)[0]
            sites.append((name, osp.basename(frame.filename), self.device))
            return original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, wrapper)

    for name in ('__bool__', '__int__', '__float__', 'item', 'tolist'):
        spy(name)
    model.loss(inputs, samples)
    monkeypatch.undo()
    assert sites == [('__int__', 'weak_to_strong_segmentor.py',
                      torch.device('cpu'))]


@pytest.mark.parametrize('channels_last', [True, False])
def test_batch_tail_gradient_keeps_the_memory_format(channels_last):
    from projects.aigcmatch.models.utils import batch_tail
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    base = torch.randn(5, 3, 4, 4).contiguous(memory_format=fmt)
    weight = torch.randn(3, 3, 4, 4).contiguous(memory_format=fmt)
    grads = []
    for tail in (batch_tail, lambda x, s: x[s:]):
        x = base.clone().requires_grad_(True)
        # two uses, as the features' (clean decode + perturbed tail)
        ((x * 2).sum() + (tail(x, 2) * weight).sum()).backward()
        grads.append(x.grad)
    torch.testing.assert_close(grads[0], grads[1], rtol=0, atol=0)
    assert grads[0].is_contiguous(memory_format=fmt)
