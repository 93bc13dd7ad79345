"""benchmarks/train_step.py (the command), step_runners.py and
step_measure.py, and the UniMatch reference step, at tiny sizes on the CPU
(the whole file runs in seconds)."""
import json
import os.path as osp

import pytest
import torch
from script_loader import load_script

ROOT = osp.join(osp.dirname(__file__), '..', '..')
CONFIG = osp.join(ROOT, 'configs', 'aigcmatch_acdc_7case.py')


def load(name: str):
    return load_script(f'benchmarks/{name}.py', with_siblings=True)


@pytest.fixture(scope='module')
def train_step():
    return load('train_step')


@pytest.fixture(scope='module')
def step_runners():
    return load('step_runners')


@pytest.fixture(scope='module')
def step_measure():
    return load('step_measure')


def test_smoke_tiny_cpu_run_writes_every_number(train_step, tmp_path):
    out = tmp_path / 'step.json'
    result = train_step.main([
        '--config', CONFIG, '--device', 'cpu', '--batch-size', '2', '--crop',
        '32', '--iters', '2', '--warmup', '1', '--num-batches', '2',
        '--variants', 'fp32,bf16+cl', '--memory', 'inprocess',
        '--data-workers', '0', '--data-batches', '1', '--data-patients', '1',
        '--json',
        str(out)
    ])
    saved = json.loads(out.read_text())
    names = [r['name'] for r in saved['results']]
    assert names == ['reference', 'ours[fp32]', 'ours[bf16+cl]']
    for row in saved['results']:
        assert row['median_ms'] > 0 and row['min_ms'] <= row['median_ms']
        assert row['images_per_s'] == pytest.approx(
            4 / (row['median_ms'] / 1000))
        assert row['speedup_vs_reference'] > 0
        assert row['memory']['kind'] == 'cpu_rss'
        assert row['saved_for_backward']['saved_mib'] > 0
    ours = saved['results'][1]
    assert ours['projected_30k_hours'] == pytest.approx(
        30000 * ours['median_ms'] / 1000 / 3600)
    assert saved['results'][0]['speedup_vs_reference'] == 1.0
    # the data pipeline: both branches, through the real h5 pipeline
    rows = saved['data_pipeline']
    assert {(r['branch'], r['workers']) for r in rows} == {('labeled', 0),
                                                          ('unlabeled', 0)}
    assert all(r['slices_per_s'] > 0 and r['slices'] > 0 for r in rows)
    assert result['args']['variants'] == 'fp32,bf16+cl'


def test_saved_for_backward_counts_each_storage_once(step_measure):
    weight = torch.randn(250, requires_grad=True)

    def step(_batch):
        y = weight.exp()  # exp saves its 1000-byte result
        # both views of y are saved by the product: the same storage
        (y[:100] * y[100:200]).sum().backward()

    saved = step_measure.saved_for_backward(step, None)
    assert saved == dict(saved_mib=1000 / 2**20, storages=1)
    assert weight.grad is not None  # the step really ran backward

    def no_grad_step(_batch):
        with torch.no_grad():
            weight.exp().sum()

    assert step_measure.saved_for_backward(no_grad_step,
                                           None)['storages'] == 0


@pytest.mark.parametrize('text', ['fp32+bf16', 'fp33', 'cl+fast', ''])
def test_bad_variant_is_one_clear_error(step_runners, text):
    with pytest.raises(ValueError, match='--variants: bad variant'):
        step_runners.parse_variant(text)


def test_variant_tokens(step_runners):
    assert step_runners.parse_variant('bf16+cl+compile') == dict(
        name='bf16+cl+compile', precision='bf16', cl=True, compile=True)
    assert step_runners.parse_variant('cl')['precision'] == 'fp32'


def test_cpu_variants_use_the_training_wrapper(step_runners):
    from mmengine.config import Config

    from projects.aigcmatch.engine import CPUAutocastOptimWrapper
    cfg = Config.fromfile(CONFIG)
    conv = torch.nn.Conv2d(1, 2, 3)
    cpu = torch.device('cpu')
    wrapper = step_runners.build_optim_wrapper(conv, cfg, cpu, 'bf16')
    assert isinstance(wrapper, CPUAutocastOptimWrapper)
    with wrapper.optim_context(conv):
        out = conv(torch.rand(1, 1, 8, 8))
    assert out.dtype == torch.bfloat16
    with pytest.raises(ValueError, match='fp16 needs CUDA'):
        step_runners.build_optim_wrapper(conv, cfg, cpu, 'fp16')


def reference_step(fp_drop=0.5):
    from mmseg.registry import MODELS
    unimatch = load('unimatch_reference_step')
    encoder = MODELS.build(
        dict(type='UNetEncoder', channels=(4, 8, 16), dropout=(0., 0., 0.)))
    decoder = MODELS.build(
        dict(
            type='AttUNetHead',
            in_channels=[4, 8, 16],
            num_classes=4,
            attention=False))
    return unimatch, unimatch.UniMatchReferenceStep(
        encoder, decoder, num_classes=4, fp_drop=fp_drop)


def reference_batch(unimatch, n=2, size=16):
    g = torch.Generator().manual_seed(0)
    batch = {
        k: torch.rand(n, 1, size, size, generator=g)
        for k in ('img_x', 'img_u_w', 'img_u_s1', 'img_u_s2', 'img_u_w_mix',
                  'img_u_s1_mix', 'img_u_s2_mix')
    }
    batch['mask_x'] = torch.randint(0, 4, (n, size, size), generator=g)
    batch['box1'] = unimatch.random_boxes(n, (size, size), prob=1.0,
                                          generator=g)
    batch['box2'] = unimatch.random_boxes(n, (size, size), prob=1.0,
                                          generator=g)
    return batch


def test_reference_step_runs_unimatch_three_passes():
    unimatch, step = reference_step()
    calls = []
    encoder = step.model['encoder']
    encoder.register_forward_hook(lambda m, args, out: calls.append(
        (args[0].shape[0], m.training, torch.is_grad_enabled())))
    decoded = []
    step.model['decoder'].register_forward_hook(
        lambda m, args, out: decoded.append(out.shape[0]))
    batch = reference_batch(unimatch)
    before = [p.detach().clone() for p in step.model.parameters()]

    logged = step.step(batch)

    # partners: eval + no grad; labeled+weak: one encoder pass whose clean
    # and perturbed features go through one decoder pass; strong views: one
    assert calls == [(2, False, False), (4, True, True), (4, True, True)]
    assert decoded == [2, 8, 4]
    assert all(isinstance(v, float) for v in logged.values())
    assert logged['loss'] > 0
    changed = [not torch.equal(b, p) for b, p in zip(
        before, step.model.parameters())]
    assert all(changed)


def test_reference_boxes_follow_unimatch_sizes():
    unimatch = load('unimatch_reference_step')
    g = torch.Generator().manual_seed(1)
    boxes = unimatch.random_boxes(400, (64, 64), prob=1.0, generator=g)
    area = boxes.flatten(1).float().mean(1)
    assert area.min() >= 0.015 and area.max() <= 0.4  # int() floors sides
    half = unimatch.random_boxes(400, (64, 64), prob=0.5, generator=g)
    has_box = half.flatten(1).any(1).float().mean()
    assert 0.4 < has_box < 0.6


def test_reference_dice_is_the_vectorised_dice_computed_class_by_class():
    unimatch = load('unimatch_reference_step')
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(3, 4, 8, 8, generator=g)
    target = torch.randint(0, 4, (3, 8, 8), generator=g)
    mask = torch.rand(3, 8, 8, generator=g) > 0.3
    slow = unimatch.per_class_dice_loss(logits, target, mask, 4)
    fast = unimatch.soft_dice_loss(logits, target, mask, 4)
    torch.testing.assert_close(slow, fast)
    # and a literal SSL4MIS Dice: per class 1 - (2 I + s) / (|p|^2 + |t| + s)
    prob = logits.softmax(1)
    literal = 0.
    for k in range(4):
        p, t = prob[:, k][mask], (target == k)[mask].float()
        literal += 1 - (2 * (p * t).sum() + 1e-5) / (
            (p * p).sum() + t.sum() + 1e-5)
    torch.testing.assert_close(slow, literal / 4)
