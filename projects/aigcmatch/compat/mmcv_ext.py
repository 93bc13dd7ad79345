"""A stand-in for ``mmcv._ext`` on installs without mmcv's compiled ops.

``mmcv-lite`` ships mmcv's Python code but not the C++/CUDA extension, yet four
``mmseg`` modules import ``mmcv.ops`` unconditionally, so ``import mmseg.models``
fails. aigcmatch itself calls no compiled op. The stand-in is installed only when
the real extension cannot be found (a full mmcv build is always preferred), and
every attribute it hands out is a function that raises
:class:`MissingCompiledOpError` naming the op — so nothing can silently compute
a wrong result.
"""
import importlib.machinery
import importlib.util
import sys
import types

STANDIN_NAME = 'mmcv._ext'


class MissingCompiledOpError(RuntimeError):
    """A compiled mmcv op was called on an install that has none."""


class _CompiledOpsStandIn(types.ModuleType):
    """Module whose every public attribute is an op that raises when called."""

    is_aigcmatch_standin = True

    def __getattr__(self, name: str):
        if name.startswith('__'):
            raise AttributeError(name)

        def missing_op(*args, **kwargs):
            raise MissingCompiledOpError(
                f'mmcv compiled op "{name}" is not available: this environment '
                'has mmcv-lite, which has no mmcv._ext. aigcmatch itself needs '
                'no compiled op; to use this one, install a full mmcv 2.1.0 '
                'build (see docs/install.md).')

        missing_op.__name__ = name
        return missing_op


def real_mmcv_ext_available() -> bool:
    """Whether a compiled ``mmcv._ext`` is importable (ignoring our stand-in)."""
    module = sys.modules.get(STANDIN_NAME)
    if module is not None:
        return not getattr(module, 'is_aigcmatch_standin', False)
    try:
        return importlib.util.find_spec(STANDIN_NAME) is not None
    except ModuleNotFoundError:  # mmcv itself is missing
        return False


def install_mmcv_ext_standin() -> bool:
    """Install the stand-in if and only if the real extension is missing.

    Returns:
        bool: True if the stand-in is (now) in use.
    """
    if real_mmcv_ext_available():
        return False
    if importlib.util.find_spec('mmcv') is None:
        return False  # nothing to patch; the import error will name mmcv
    module = _CompiledOpsStandIn(STANDIN_NAME)
    # a spec without a loader: tools that probe for the extension (mmengine's
    # environment report) see "no compiled ops" instead of crashing
    module.__spec__ = importlib.machinery.ModuleSpec(STANDIN_NAME, None)
    sys.modules.setdefault(STANDIN_NAME, module)
    return True
