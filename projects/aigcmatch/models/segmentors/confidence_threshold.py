"""Which weak-view pixels count as pseudo-labels: fixed or per-class
thresholds, or thresholds that follow each class's learning status."""
from typing import Dict, Sequence, Union

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmseg.registry import MODELS

ThreshConfig = Union[float, Sequence[float], dict]


class FixedThreshold(nn.Module):
    """One threshold for every pixel, or one per pseudo-label class.

    Args:
        thresh (float | Sequence[float]): The threshold(s), in [0, 1].
        num_classes (int): Number of classes (the length of a list).
    """

    def __init__(self, thresh: Union[float, Sequence[float]],
                 num_classes: int) -> None:
        super().__init__()
        if isinstance(thresh, (list, tuple)):
            if len(thresh) != num_classes or not all(
                    _in_unit(t) for t in thresh):
                raise ValueError(_THRESH_ERROR.format(num_classes, thresh))
            self.per_class = torch.tensor([float(t) for t in thresh])
            self.thresh = None
        elif _in_unit(thresh):
            self.per_class, self.thresh = None, float(thresh)
        else:
            raise ValueError(_THRESH_ERROR.format(num_classes, thresh))

    def forward(self, conf: Tensor, pseudo: Tensor,
                update: bool = False) -> Tensor:
        """1.0 where a pixel's confidence reaches its class's threshold
        (``update`` is accepted for a common interface; nothing to learn)."""
        if self.per_class is None:
            return (conf >= self.thresh).float()
        return (conf >= self.per_class.to(conf.device)[pseudo]).float()

    def logs(self) -> Dict[str, Tensor]:
        """Nothing changes during training: nothing to log."""
        return {}


@MODELS.register_module()
class ClassAdaptiveThreshold(nn.Module):
    """A confidence threshold per class that follows how sure the model is of
    that class.

    With one fixed threshold (0.95) a thin class may get no pseudo-label at
    all, so the unlabeled losses teach only what the model already knows.
    Here each class ``c`` keeps an exponential moving average ``beta_c`` of
    the mean confidence of the weak-view pixels pseudo-labelled ``c`` (pooled
    over all ranks), and::

        threshold_c = max(floor, base * beta_c / max_k beta_k)

    The class the model is surest of (usually background) keeps ``base``; a
    class it is less sure of gets a proportionally lower threshold, which
    rises as the class is learnt. A class not yet predicted has ``base``.
    (FlexMatch/FreeMatch scale thresholds by a class's learning status; they
    measure it by how often a class is predicted, which in segmentation
    only says how large the organ is, so confidence is used here.)

    The averages are buffers: saved in checkpoints, restored on resume.

    Args:
        num_classes (int): Number of classes (set by the segmentor).
        base (float): The most confident class's threshold. Defaults to 0.95.
        momentum (float): Weight of the old average at each update.
            Defaults to 0.99.
        floor (float): No threshold goes below it. Defaults to 0.5 (a pixel
            whose class has less than half the probability is never a
            pseudo-label).
    """

    def __init__(self,
                 num_classes: int,
                 base: float = 0.95,
                 momentum: float = 0.99,
                 floor: float = 0.5) -> None:
        super().__init__()
        for name, value in (('base', base), ('momentum', momentum),
                            ('floor', floor)):
            if not _in_unit(value):
                raise ValueError(f'ClassAdaptiveThreshold: `{name}` must be '
                                 f'in [0, 1], got {value!r}')
        if floor > base:
            raise ValueError(f'ClassAdaptiveThreshold: `floor` ({floor}) is '
                             f'above `base` ({base})')
        self.num_classes = int(num_classes)
        self.base, self.momentum, self.floor = base, momentum, floor
        self.register_buffer('class_conf', torch.zeros(self.num_classes))
        self.register_buffer('seen',
                             torch.zeros(self.num_classes, dtype=torch.bool))

    @torch.no_grad()
    def update(self, conf: Tensor, pseudo: Tensor) -> None:
        """Fold one batch's per-class mean confidence into the averages."""
        onehot = F.one_hot(pseudo.flatten().long(), self.num_classes).float()
        stats = torch.stack(
            [(onehot * conf.flatten().float()[:, None]).sum(0),
             onehot.sum(0)])
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(stats)
        present = stats[1] > 0
        mean = stats[0] / stats[1].clamp_min(1)
        ema = self.momentum * self.class_conf + (1 - self.momentum) * mean
        new = torch.where(self.seen, ema, mean)
        self.class_conf.copy_(torch.where(present, new, self.class_conf))
        self.seen.logical_or_(present)

    def thresholds(self) -> Tensor:
        """The current threshold of every class, (num_classes, )."""
        top = self.class_conf.max().clamp_min(1e-12)  # unseen classes: 0
        scaled = (self.base * self.class_conf / top).clamp(
            min=self.floor, max=self.base)
        return torch.where(self.seen, scaled,
                           torch.full_like(scaled, self.base))

    def forward(self, conf: Tensor, pseudo: Tensor,
                update: bool = False) -> Tensor:
        """1.0 where a pixel's confidence reaches its class's threshold;
        with ``update`` (the weak view, in training) the averages take this
        batch in first."""
        if update and self.training:
            self.update(conf, pseudo)
        return (conf >= self.thresholds()[pseudo]).float()

    def logs(self) -> Dict[str, Tensor]:
        """``thresh_c<k>``: each class's current threshold."""
        return {f'thresh_c{k}': t for k, t in enumerate(self.thresholds())}


def build_threshold(conf_thresh: ThreshConfig, num_classes: int):
    """The segmentor's threshold module from its ``conf_thresh``: a number
    or a list (one per class) gives a :class:`FixedThreshold`, a dict a
    registered threshold such as :class:`ClassAdaptiveThreshold`.

    A threshold module is called as ``module(conf, pseudo, update=False)``
    and returns the 0/1 mask of confident pixels (``update=True`` for the
    weak view in training, the one call per step that may learn from the
    batch); ``module.logs()`` returns the values to log with the losses.
    """
    if isinstance(conf_thresh, dict):
        return MODELS.build(
            conf_thresh, default_args=dict(num_classes=num_classes))
    return FixedThreshold(conf_thresh, num_classes)


def _in_unit(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(
        value, bool) and 0.0 <= value <= 1.0


_THRESH_ERROR = ('conf_thresh must be a number in [0, 1], one per class '
                 '({}), or a threshold config dict such as '
                 "dict(type='ClassAdaptiveThreshold'), got {!r}")
