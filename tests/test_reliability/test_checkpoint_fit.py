"""A checkpoint that does not fit the model, or cannot be read, stops
tools/test.py, load_from and --resume with one line naming the file, instead
of evaluating (or training) layers left at their random initialisation."""
import os
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmseg.registry import MODELS

from projects.aigcmatch.apis import (check_state_dict, compare_state_dict,
                                     state_dict_of)
from projects.aigcmatch.compat import (UnreadableCheckpointError,
                                       safe_load_checkpoint)
from projects.aigcmatch.utils import ensure_checkpoint_check

from reliability_helpers import run_tool, tiny_config, write_config


@pytest.fixture(scope='module')
def setup(small_acdc, tmp_path_factory):
    """The tiny config, a checkpoint of its model, and checkpoints that do
    not fit it."""
    base = tmp_path_factory.mktemp('fit')
    cfg = tiny_config(small_acdc, work_dir=str(base / 'work'), max_iters=2)
    config = write_config(cfg, str(base / 'tiny.py'))
    init_default_scope('mmseg')
    torch.manual_seed(0)
    state = MODELS.build(Config.fromfile(config).model).state_dict()
    paths = dict(config=config, base=str(base))

    def save(name, state_dict):
        paths[name] = str(base / f'{name}.pth')
        torch.save({'state_dict': state_dict}, paths[name])

    save('good', state)
    # a few keys of the right names, wrong shapes
    save('keys_only', {k: torch.zeros(1) for k in list(state)[:3]})
    five = dict(state)
    weight = state['decode_head.conv_seg.weight']
    five['decode_head.conv_seg.weight'] = torch.zeros(5, *weight.shape[1:])
    five['decode_head.conv_seg.bias'] = torch.zeros(5)
    save('five_classes', five)
    # another network altogether (ResNet-18 names and shapes)
    from mmseg.models.backbones import ResNet
    save('resnet18', ResNet(depth=18).state_dict())
    save('extra_key', dict(state, **{'extra.weight': torch.zeros(3)}))
    save('backbone_only',
         {k: v for k, v in state.items() if k.startswith('backbone.')})
    paths['truncated'] = str(base / 'truncated.pth')
    with open(paths['good'], 'rb') as f:
        data = f.read()
    with open(paths['truncated'], 'wb') as f:
        f.write(data[:len(data) // 2])
    return paths


def assert_one_error_line(proc, *fragments):
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert 'Traceback' not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith('error:')]
    assert len(lines) == 1, proc.stderr[-3000:]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize('name, fragments', [
    ('keys_only', ['does not fit the model of config',
                   '3 parameter shapes differ', 'parameters are missing']),
    ('five_classes', ['was trained for 5 classes', 'has num_classes=4']),
    ('resnet18', ['parameters are missing', 'entries are not in the model',
                  'conv1.weight']),
    ('extra_key', ['1 entry is not in the model, e.g. extra.weight']),
    ('truncated', ['cannot be read: it is truncated']),
])
def test_test_tool_refuses_a_checkpoint_that_does_not_fit(
        setup, tmp_path, name, fragments):
    out = str(tmp_path / 'out')
    proc = run_tool('tools/test.py', setup['config'], setup[name], '--out',
                    out, '--work-dir', str(tmp_path / 'work'))
    line = assert_one_error_line(proc, f'checkpoint {setup[name]}',
                                 *fragments)
    if name != 'truncated':
        assert f'config {setup["config"]}' in line
    # no metrics of random weights were written
    assert not osp.isdir(out) or not os.listdir(out)


def test_test_tool_accepts_the_right_checkpoint(setup, tmp_path):
    proc = run_tool('tools/test.py', setup['config'], setup['good'], '--out',
                    str(tmp_path / 'out'), '--work-dir', str(tmp_path / 'w'))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert osp.isfile(str(tmp_path / 'out' / 'metrics_summary.json'))


def test_load_from_must_fit_unless_partial_load_is_asked(setup, tmp_path):
    proc = run_tool('tools/train.py', setup['config'], '--work-dir',
                    str(tmp_path / 'a'), '--cfg-options',
                    f'load_from={setup["backbone_only"]}')
    assert_one_error_line(proc, f'checkpoint {setup["backbone_only"]}',
                          'parameters are missing, e.g. decode_head',
                          '--partial-load')
    assert not osp.exists(str(tmp_path / 'a' / 'iter_2.pth'))

    proc = run_tool('tools/train.py', setup['config'], '--work-dir',
                    str(tmp_path / 'b'), '--partial-load', '--cfg-options',
                    f'load_from={setup["backbone_only"]}')
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = proc.stdout + proc.stderr
    # what was and was not loaded, by module
    init_default_scope('mmseg')
    model = MODELS.build(Config.fromfile(setup['config']).model)
    state = model.state_dict()
    n_backbone = sum(k.startswith('backbone.') for k in state)
    head = [k for k in state if k.startswith('decode_head.')]
    assert n_backbone + len(head) == len(state)
    # BN's num_batches_tracked is not counted when the checkpoint lacks it
    n_head = sum(not k.endswith('num_batches_tracked') for k in head)
    assert (f'load_from {setup["backbone_only"]}: partial load '
            f'(--partial-load): loaded {n_backbone} of {n_backbone + n_head} '
            f'model tensors (backbone {n_backbone}/{n_backbone}, decode_head '
            f'0/{n_head}); left as initialised: decode_head.') in log
    assert osp.isfile(str(tmp_path / 'b' / 'iter_2.pth'))


def test_partial_load_is_refused_where_it_makes_no_sense(setup, tmp_path):
    proc = run_tool('tools/train.py', setup['config'], '--work-dir',
                    str(tmp_path / 'c'), '--partial-load')
    assert_one_error_line(proc, '--partial-load needs a checkpoint to load')
    proc = run_tool('tools/train.py', setup['config'], '--work-dir',
                    str(tmp_path / 'c'), '--partial-load', '--resume')
    assert_one_error_line(proc, 'not to --resume')


def test_resume_from_a_truncated_checkpoint_names_it_and_the_others(
        setup, tmp_path):
    work_dir = tmp_path / 'work'
    work_dir.mkdir()
    earlier = str(work_dir / 'iter_2.pth')
    broken = str(work_dir / 'iter_4.pth')
    with open(setup['truncated'], 'rb') as src, open(broken, 'wb') as dst:
        dst.write(src.read())
    torch.save({'state_dict': {}}, earlier)
    (work_dir / 'last_checkpoint').write_text(broken)
    proc = run_tool('tools/train.py', setup['config'], '--work-dir',
                    str(work_dir), '--resume')
    assert_one_error_line(
        proc, f'checkpoint {broken}', 'cannot be read: it is truncated',
        f'pass --resume --cfg-options load_from={earlier}')


def test_resume_from_another_model_is_refused(setup, tmp_path):
    work_dir = tmp_path / 'work'
    work_dir.mkdir()
    other = str(work_dir / 'iter_2.pth')
    torch.save(safe_load_checkpoint(setup['five_classes']), other)
    (work_dir / 'last_checkpoint').write_text(other)
    proc = run_tool('tools/train.py', setup['config'], '--work-dir',
                    str(work_dir), '--resume')
    assert_one_error_line(proc, f'checkpoint {other} was trained for 5')


@pytest.mark.parametrize('content', [
    b'', b'PK\x03\x04 not really a zip', b'\x80\x02garbage',
    b'hello world, not a checkpoint'
])
def test_unreadable_checkpoint_is_named(tmp_path, content):
    path = tmp_path / 'broken.pth'
    path.write_bytes(content)
    with pytest.raises(UnreadableCheckpointError,
                       match=rf'checkpoint {path} \({len(content)} bytes\) '
                       'cannot be read'):
        safe_load_checkpoint(str(path))


def test_fit_report_names_every_kind(setup):
    init_default_scope('mmseg')
    model = MODELS.build(Config.fromfile(setup['config']).model)
    state = state_dict_of(safe_load_checkpoint(setup['good']), 'good')
    assert compare_state_dict(model, state).exact
    check_state_dict(model, state, 'good.pth', 'tiny.py')
    # a DDP-saved checkpoint ('module.' prefix) fits as well
    wrapped = {'state_dict': {f'module.{k}': v for k, v in state.items()}}
    assert compare_state_dict(model, state_dict_of(wrapped, 'x')).exact

    partial = {k: v for k, v in state.items() if k.startswith('backbone.')}
    n_head = sum(not k.endswith('num_batches_tracked') for k in state
                 if not k.startswith('backbone.'))
    assert n_head > 0
    partial['fc.weight'] = torch.zeros(2)
    with pytest.raises(ValueError, match=r'c\.pth does not fit the model of '
                       rf'config tiny\.py: {n_head} parameters are missing, '
                       r'e\.g\. decode_head.*1 entry is not in the model'):
        check_state_dict(model, partial, 'c.pth', 'tiny.py')
    fit = check_state_dict(
        model, partial, 'c.pth', 'tiny.py', allow_partial=True)
    assert len(fit.loaded) == len(partial) - 1 and len(fit.missing) == n_head
    assert fit.unexpected == ['fc.weight']
    assert 'not used from the checkpoint: fc.weight' in fit.describe_partial()
    with pytest.raises(ValueError, match='no parameter of it fits'):
        check_state_dict(model, {'fc.weight': torch.zeros(2)}, 'c.pth',
                         'tiny.py', allow_partial=True)


def test_tools_add_the_checkpoint_check_a_config_dropped():
    cfg = Config(dict(custom_hooks=[dict(type='NonFiniteLossHook')]))
    ensure_checkpoint_check(cfg, partial_load=True)
    assert cfg.custom_hooks[0] == dict(
        type='SafeCheckpointHook', partial_load=True)
    ensure_checkpoint_check(cfg)
    assert [h['type'] for h in cfg.custom_hooks
            ].count('SafeCheckpointHook') == 1
    assert cfg.custom_hooks[0]['partial_load'] is False
