"""Loading mmengine checkpoints with ``torch.load(weights_only=True)``.

Since torch 2.6, ``torch.load`` unpickles only tensors, containers and
allow-listed types. mmengine checkpoints also hold the message hub's
``HistoryBuffer`` objects, which wrap numpy arrays, so resume and ``load_from``
fail. Turning ``weights_only`` off would execute whatever a checkpoint file
pickles (a checkpoint is untrusted input), so instead we allow-list exactly
those types and nothing callable.

One more obstacle: ``HistoryBuffer.__getstate__`` pickles its class-level
registry of statistics *functions* (``getattr(HistoryBuffer, 'min')``, ...).
Allow-listing ``getattr`` would let a crafted file reach any attribute of an
allow-listed class, so instead buffers are pickled without that registry (it
lives on the class and is rebuilt by ``__setstate__`` anyway).
"""
import os.path as osp
import pickle
from typing import Any, List

import numpy as np
import torch

UNSAFE_CHECKPOINT_HINT = (
    'refusing to load it: it pickles an object that is not on the allow-list '
    'of weights-only loading (tensors, containers, numpy arrays/scalars and '
    "mmengine's HistoryBuffer). A checkpoint can execute code when unpickled; "
    'only load files you trust, re-saved as plain state dicts.')


def _numpy_reconstruct_funcs() -> List[Any]:
    # numpy 2 moved numpy.core to numpy._core; checkpoints record either.
    funcs = []
    for module_name in ('numpy._core.multiarray', 'numpy.core.multiarray'):
        try:
            module = __import__(module_name, fromlist=['_reconstruct'])
        except ImportError:
            continue
        for attr in ('_reconstruct', 'scalar'):
            if hasattr(module, attr):
                funcs.append(getattr(module, attr))
    return funcs


def _numpy_dtype_classes() -> List[type]:
    # Numeric and boolean dtypes only: an object dtype would unpickle anything.
    names = ('Bool', 'Int8', 'Int16', 'Int32', 'Int64', 'UInt8', 'UInt16',
             'UInt32', 'UInt64', 'Float16', 'Float32', 'Float64')
    return [getattr(np.dtypes, f'{n}DType') for n in names]


def mmengine_checkpoint_types() -> List[Any]:
    """The exact non-tensor types an mmengine checkpoint pickles."""
    from mmengine.logging.history_buffer import HistoryBuffer
    return [HistoryBuffer, np.ndarray, np.dtype, *_numpy_reconstruct_funcs(),
            *_numpy_dtype_classes()]


def _history_buffer_state(self) -> dict:
    state = dict(self.__dict__)
    state.pop('statistics_methods', None)
    return state


def allow_mmengine_checkpoint_types() -> None:
    """Allow-list :func:`mmengine_checkpoint_types` for weights-only loading
    and make ``HistoryBuffer`` pickle without function references."""
    from mmengine.logging.history_buffer import HistoryBuffer
    HistoryBuffer.__getstate__ = _history_buffer_state
    if hasattr(torch.serialization, 'add_safe_globals'):
        torch.serialization.add_safe_globals(mmengine_checkpoint_types())


class UnreadableCheckpointError(ValueError):
    """A checkpoint file that torch cannot read: truncated, empty or not a
    torch file. The message names the file."""


def safe_load_checkpoint(path: str, map_location: str = 'cpu') -> dict:
    """``torch.load`` with ``weights_only=True`` and a readable refusal.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        pickle.UnpicklingError: the file pickles a non-allow-listed object;
            the message names the file and the offending global.
        UnreadableCheckpointError: the file is truncated (e.g. a write that
            was interrupted), empty or not a torch checkpoint; torch reports
            these as EOFError, RuntimeError ("failed finding central
            directory"), OSError or KeyError without naming the file.
    """
    allow_mmengine_checkpoint_types()
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise FileNotFoundError(f'checkpoint {path}: no such file') from None
    except pickle.UnpicklingError as err:
        if _is_refused_global(err):
            raise pickle.UnpicklingError(
                f'checkpoint {path}: {UNSAFE_CHECKPOINT_HINT} '
                f'(torch said: {_first_reason(err)})') from None
        raise _unreadable(path, err) from None
    except (EOFError, RuntimeError, OSError, KeyError, ValueError) as err:
        raise _unreadable(path, err) from None


def _unreadable(path: str, err: Exception) -> UnreadableCheckpointError:
    size = osp.getsize(path) if osp.isfile(path) else 0
    reason = _first_reason(err)
    said = type(err).__name__ + (f': {reason}' if reason and
                                  reason != type(err).__name__ else '')
    return UnreadableCheckpointError(
        f'checkpoint {path} ({size} bytes) cannot be read: it is truncated '
        '(e.g. its write was interrupted), empty or not a torch checkpoint '
        f'(torch said: {said}); expected a complete '
        'file written by torch.save')


def _is_refused_global(err: Exception) -> bool:
    # torch's weights-only unpickler names what it refused ("Unsupported
    # global: GLOBAL print", "... but got <class>"); a truncated or garbled
    # pickle fails in the same unpickler without such a line.
    text = str(err)
    return any(key in text for key in ('GLOBAL', 'Unsupported global',
                                       'but got', 'allowlisted'))


def _first_reason(err: Exception) -> str:
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    if isinstance(err, pickle.UnpicklingError):
        # the weights-only unpickler's own reason follows this marker; the
        # rest of its message is advice about weights_only
        marker = 'WeightsUnpickler error:'
        for line in lines:
            if marker in line and 'global' not in line.lower():
                return line.split(marker, 1)[1].strip() or 'garbled data'
    for line in lines:
        if any(key in line for key in ('GLOBAL', 'global', 'but got')):
            return line
    # torch's own advice ("This is an internal miniz error. If you are
    # seeing this ...") is cut: the first sentence says what failed
    return lines[-1].split('. ')[0] if lines else type(err).__name__
