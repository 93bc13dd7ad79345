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


def safe_load_checkpoint(path: str, map_location: str = 'cpu') -> dict:
    """``torch.load`` with ``weights_only=True`` and a readable refusal.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        pickle.UnpicklingError: the file pickles a non-allow-listed object;
            the message names the file and the offending global.
    """
    allow_mmengine_checkpoint_types()
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        raise pickle.UnpicklingError(
            f'checkpoint {path}: {UNSAFE_CHECKPOINT_HINT} '
            f'(torch said: {_first_reason(err)})') from None


def _first_reason(err: Exception) -> str:
    lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
    for line in lines:
        if any(key in line for key in ('GLOBAL', 'global', 'but got')):
            return line
    return lines[-1] if lines else type(err).__name__
