"""How a segmentor runs its network fast: channels-last memory format,
optional ``torch.compile`` with an eager fallback, and a batch slice whose
gradient keeps the memory format. None of it changes a value."""
import warnings
from typing import Callable, Dict, List, Union

import torch
from torch import Tensor


class FastStepMixin:
    """For an ``EncoderDecoder``: :meth:`extract_feat`, :meth:`_decode_plain`
    and :meth:`_decode` in the memory format and compiled form asked for by
    :meth:`_setup_fast_step`."""

    def _setup_fast_step(self, channels_last: bool,
                         torch_compile: Union[bool, dict]) -> None:
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
        if not torch_compile:
            return
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

    def _decode(self, feats):
        """Logits and, when the head has it, its attention (else None)."""
        if getattr(self.decode_head, 'provides_attention', False):
            return self._run('decode_with_attention',
                             self.decode_head.forward_with_attention, feats)
        return self._decode_plain(feats), None

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
                f'{type(self).__name__}: torch.compile failed '
                f'({type(err).__name__}: {first_line}); running eagerly '
                'from now on')
            self._compiled.clear()
            return eager(*args)


def _is_compile_error(err: Exception) -> bool:
    try:
        from torch._dynamo.exc import TorchDynamoException
    except ImportError:  # a torch without dynamo cannot have compiled
        return False
    return isinstance(err, TorchDynamoException)


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


def batch_tail(x: Tensor, start: int) -> Tensor:
    """``x[start:]`` along the batch, gradient in ``x``'s memory format."""
    if not x.requires_grad:
        return x[start:]
    return _BatchTail.apply(x, start)
