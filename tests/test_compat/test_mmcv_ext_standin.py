import sys
import types

import pytest
import torch

import projects.aigcmatch  # noqa: F401  (installs the stand-in if needed)
from projects.aigcmatch.compat import mmcv_ext
from projects.aigcmatch.compat.mmcv_ext import (MissingCompiledOpError,
                                                install_mmcv_ext_standin,
                                                real_mmcv_ext_available)


def test_mmseg_models_import_and_build_a_model():
    # mmseg.models needs mmcv.ops, hence mmcv._ext
    from mmseg.models.decode_heads import FCNHead
    head = FCNHead(in_channels=4, channels=4, num_classes=2, num_convs=1)
    out = head([torch.rand(1, 4, 8, 8)])
    assert out.shape == (1, 2, 8, 8)


@pytest.mark.skipif(real_mmcv_ext_available(),
                    reason='a full mmcv build is installed')
def test_compiled_op_raises_clear_error():
    from mmcv.ops import nms
    with pytest.raises(MissingCompiledOpError, match='"nms".*mmcv-lite.*full '
                       'mmcv 2.1.0'):
        nms(torch.rand(3, 4), torch.rand(3), 0.5)


def test_standin_never_replaces_a_real_extension(monkeypatch):
    real = types.ModuleType('mmcv._ext')  # what a full build provides
    monkeypatch.setitem(sys.modules, 'mmcv._ext', real)
    assert real_mmcv_ext_available()
    assert install_mmcv_ext_standin() is False
    assert sys.modules['mmcv._ext'] is real


def test_standin_is_installed_only_when_missing(monkeypatch):
    monkeypatch.delitem(sys.modules, 'mmcv._ext', raising=False)
    monkeypatch.setattr(mmcv_ext.importlib.util, 'find_spec',
                        lambda name: None if name == 'mmcv._ext' else object())
    assert install_mmcv_ext_standin() is True
    module = sys.modules['mmcv._ext']
    assert module.is_aigcmatch_standin
    assert not hasattr(module, '__wrapped__')  # dunders are not faked
    with pytest.raises(MissingCompiledOpError, match='roi_align_forward'):
        module.roi_align_forward()
