"""Mixed precision on the CPU, where mmengine's ``AmpOptimWrapper`` cannot
run (it asserts a GPU)."""
from contextlib import contextmanager
from typing import Union

import torch
from mmengine.optim import OptimWrapper
from mmseg.registry import OPTIM_WRAPPERS


@OPTIM_WRAPPERS.register_module()
class CPUAutocastOptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose forward runs under
    ``torch.autocast('cpu', dtype=torch.bfloat16)``.

    What ``tools/train.py --amp`` uses on a machine without CUDA when the CPU
    has bfloat16 kernels. bfloat16 has float32's exponent range, so there is
    no loss scaling; the model keeps float32 weights and gradients, and the
    segmentor computes its pseudo-labels and losses in float32.

    Args:
        dtype (str | torch.dtype): Autocast dtype; only ``'bfloat16'``
            (CPU autocast has no float16 convolutions).
        **kwargs: ``OptimWrapper`` arguments (``optimizer``, ``clip_grad``,
            ``accumulative_counts``).
    """

    def __init__(self,
                 dtype: Union[str, torch.dtype] = 'bfloat16',
                 **kwargs) -> None:
        super().__init__(**kwargs)
        if isinstance(dtype, str):
            dtype = getattr(torch, dtype, None)
        if dtype is not torch.bfloat16:
            raise ValueError('CPUAutocastOptimWrapper: dtype must be '
                             f"'bfloat16', got {dtype!r}")
        self.cast_dtype = dtype

    @contextmanager
    def optim_context(self, model: torch.nn.Module):
        with super().optim_context(model), torch.autocast(
                'cpu', dtype=self.cast_dtype):
            yield
