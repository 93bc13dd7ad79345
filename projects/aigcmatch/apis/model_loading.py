"""Build a segmentor from a config and load a checkpoint into it, checked.

mmengine's loader only warns when a checkpoint does not fit the model (e.g.
it was trained for another number of classes) and then predicts with random
weights. Here a missing, mis-shaped or unexpected parameter is an error that
names the checkpoint; :class:`~projects.aigcmatch.engine.SafeCheckpointHook`
applies the same check to ``load_from`` and ``--resume``.
"""
import os.path as osp
from dataclasses import dataclass
from typing import Dict, List, Optional, Union

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from torch import Tensor

from ..compat import safe_load_checkpoint
from ..utils.config import load_config

ConfigLike = Union[str, Config]


def resolve_device(device: Optional[str] = None) -> str:
    """``device`` as given, else ``'cuda'`` if usable, else ``'cpu'``."""
    if device:
        return device
    return 'cuda' if torch.cuda.is_available() else 'cpu'


def as_config(config: ConfigLike) -> Config:
    """A :class:`Config` from a path (one-line error if missing), a dict or
    a Config."""
    if isinstance(config, Config):
        return config
    if isinstance(config, dict):
        return Config(config)
    return load_config(str(config))


def _sync_bn_to_bn(node) -> None:
    # Inference runs in eval mode, where SyncBN and BN compute the same thing
    # from the same running statistics; BN also runs on CPU and without a
    # process group.
    if isinstance(node, dict):
        if node.get('type') in ('SyncBN', 'MMSyncBN'):
            node['type'] = 'BN'
        for value in node.values():
            _sync_bn_to_bn(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            _sync_bn_to_bn(value)


def state_dict_of(checkpoint: dict, path: str) -> Dict[str, Tensor]:
    """The model state dict held by a loaded checkpoint.

    Args:
        checkpoint (dict): What :func:`safe_load_checkpoint` returned: an
            mmengine checkpoint (``state_dict`` key) or a plain state dict.
        path (str): Its file, for messages.

    Returns:
        dict[str, Tensor]: Parameters and buffers, without a DDP
        ``module.`` prefix.

    Raises:
        ValueError: The file holds no dict of tensors.
    """
    state = checkpoint.get('state_dict', checkpoint) if isinstance(
        checkpoint, dict) else None
    if not isinstance(state, dict) or not state or \
            not all(isinstance(v, Tensor) for v in state.values()):
        raise ValueError(
            f'checkpoint {path}: expected a dict of tensors (a state dict, '
            "or a dict with 'state_dict'), found none")
    # DDP-wrapped models save their parameters under 'module.'
    return {
        k[len('module.'):] if k.startswith('module.') else k: v
        for k, v in state.items()
    }


#: How many keys a message names before "...".
_SHOWN = 3


def _some(keys: List[str]) -> str:
    more = f' (+{len(keys) - _SHOWN} more)' if len(keys) > _SHOWN else ''
    return ', '.join(keys[:_SHOWN]) + more


def _count(items: list, one: str, many: Optional[str] = None) -> str:
    return f'{len(items)} {one if len(items) == 1 else many or one + "s"}'


def _verb(items: list, one: str, many: str) -> str:
    return one if len(items) == 1 else many


def _optional(key: str) -> bool:
    # BN's num_batches_tracked is bookkeeping that older checkpoints lack
    return key.endswith('num_batches_tracked')


@dataclass
class StateDictFit:
    """How a checkpoint's state dict fits a model, key by key.

    Attributes:
        loaded (list[str]): Model keys the checkpoint fills (same shape).
        missing (list[str]): Model keys the checkpoint lacks (BN
            ``num_batches_tracked`` not counted).
        mismatched (list[str]): Keys in both with different shapes, as
            ``key (checkpoint shape) vs (model shape)``.
        unexpected (list[str]): Checkpoint keys the model does not have.
        num_model_keys (int): Keys of the model's state dict.
    """
    loaded: List[str]
    missing: List[str]
    mismatched: List[str]
    unexpected: List[str]
    num_model_keys: int

    @property
    def exact(self) -> bool:
        """Every model key filled, nothing left over."""
        return not (self.missing or self.mismatched or self.unexpected)

    def problems(self) -> List[str]:
        """What does not fit, one phrase per kind (empty if exact)."""
        found = []
        if self.mismatched:
            found.append(f'{_count(self.mismatched, "parameter shape")} '
                         f'{_verb(self.mismatched, "differs", "differ")} '
                         f'(checkpoint vs model): {_some(self.mismatched)}')
        if self.missing:
            found.append(f'{_count(self.missing, "parameter")} '
                         f'{_verb(self.missing, "is", "are")} missing, e.g. '
                         f'{_some(self.missing)}')
        if self.unexpected:
            found.append(f'{_count(self.unexpected, "entry", "entries")} '
                         f'{_verb(self.unexpected, "is", "are")} not in the '
                         f'model, e.g. {_some(self.unexpected)}')
        return found

    def describe_partial(self) -> str:
        """What a partial load loads and leaves, by top-level module."""
        groups: Dict[str, List[int]] = {}
        for key in self.loaded:
            groups.setdefault(key.split('.')[0], [0, 0])[0] += 1
        for key in self.missing + [m.split(' ')[0] for m in self.mismatched]:
            groups.setdefault(key.split('.')[0], [0, 0])[1] += 1
        parts = ', '.join(f'{name} {done}/{done + left}'
                          for name, (done, left) in groups.items())
        text = (f'loaded {len(self.loaded)} of {self.num_model_keys} model '
                f'tensors ({parts})')
        left = self.missing + [m.split(' ')[0] for m in self.mismatched]
        if left:
            text += (f'; left as initialised: {_some(left)}')
        if self.unexpected or self.mismatched:
            text += ('; not used from the checkpoint: ' +
                     _some(self.unexpected + self.mismatched))
        return text


def compare_state_dict(model: torch.nn.Module,
                       state: Dict[str, Tensor]) -> StateDictFit:
    """Match a state dict against a model's, key by key.

    Args:
        model (torch.nn.Module): The model.
        state (dict[str, Tensor]): A checkpoint's state dict.

    Returns:
        StateDictFit: Loaded, missing, mis-shaped and unexpected keys.
    """
    own = model.state_dict()
    loaded, missing, mismatched = [], [], []
    for key, value in own.items():
        if key not in state:
            if not _optional(key):
                missing.append(key)
        elif tuple(state[key].shape) != tuple(value.shape):
            mismatched.append(f'{key} {tuple(state[key].shape)} vs '
                              f'{tuple(value.shape)}')
        else:
            loaded.append(key)
    unexpected = [k for k in state if k not in own]
    # optional keys count only where the checkpoint has them
    counted = sum(1 for k in own if not _optional(k) or k in state)
    return StateDictFit(loaded, missing, mismatched, unexpected, counted)


def check_state_dict(model: torch.nn.Module,
                     state: Dict[str, Tensor],
                     checkpoint: str,
                     config_name: str,
                     allow_partial: bool = False) -> StateDictFit:
    """Raise if ``state`` does not fit ``model`` exactly.

    Missing, mis-shaped and unexpected keys are all errors: mmengine's
    loader only warns about them, and a model left partly at its random
    initialisation evaluates to wrong numbers without failing. With
    ``allow_partial`` (initial weights from another model, e.g. a
    backbone-only pretraining) what fits is accepted, provided something
    does; the returned :class:`StateDictFit` says what.

    Args:
        model (torch.nn.Module): The model built from the config.
        state (dict[str, Tensor]): The checkpoint's state dict.
        checkpoint (str): Its file, for messages.
        config_name (str): The config file, for messages.
        allow_partial (bool): Accept a checkpoint that fits in part.
            Defaults to False.

    Returns:
        StateDictFit: How the checkpoint fits.

    Raises:
        ValueError: The checkpoint does not fit (or, with ``allow_partial``,
            nothing of it fits); one line naming the checkpoint, the config
            and the first offending keys. A different number of classes is
            reported as such.
    """
    fit = compare_state_dict(model, state)
    if allow_partial:
        if not fit.loaded:
            raise ValueError(
                f'checkpoint {checkpoint}: no parameter of it fits the model '
                f'of config {config_name} (partial loading asked for): '
                f"{'; '.join(fit.problems())}")
        return fit
    own = model.state_dict()
    head = getattr(model, 'decode_head', None)
    seg_key = 'decode_head.conv_seg.weight'
    if head is not None and seg_key in state and seg_key in own and \
            state[seg_key].shape[0] != own[seg_key].shape[0]:
        trained = state[seg_key].shape[0]
        raise ValueError(
            f'checkpoint {checkpoint} was trained for {trained} classes '
            f'({seg_key} has {trained} output channels), but config '
            f'{config_name} has num_classes={head.num_classes}; use the '
            'config the checkpoint was trained with')
    if not fit.exact:
        raise ValueError(
            f'checkpoint {checkpoint} does not fit the model of config '
            f"{config_name}: {'; '.join(fit.problems())}. Use the config "
            'the checkpoint was trained with (for initial weights that fit '
            'in part, e.g. a backbone-only pretraining, tools/train.py '
            '--partial-load loads what fits)')
    return fit


def load_segmentor(config: ConfigLike,
                   checkpoint: str,
                   device: Optional[str] = None) -> torch.nn.Module:
    """Build the config's model for inference and load ``checkpoint``.

    The checkpoint is read with ``weights_only=True``. Like
    ``mmseg.apis.init_model``, the result has ``cfg`` and ``dataset_meta``
    attributes and is in eval mode; unlike it, a checkpoint that does not fit
    the model is refused instead of silently leaving layers random.

    Args:
        config (str | Config): Config file or object.
        checkpoint (str): mmengine checkpoint or plain state dict (``.pth``).
        device (str, optional): Torch device; None picks CUDA when usable,
            else CPU.

    Returns:
        torch.nn.Module: The segmentor, on ``device``, in eval mode.

    Raises:
        FileNotFoundError: The checkpoint does not exist.
        ValueError: The checkpoint does not fit the config's model exactly
            (missing, mis-shaped or unexpected keys, e.g. another number of
            classes), holds no state dict, or cannot be read (truncated).
        pickle.UnpicklingError: The checkpoint pickles objects outside the
            allow-list.
    """
    # imported here, after compat installed the mmcv stand-in mmseg needs
    from mmseg.registry import MODELS

    cfg = as_config(config)
    config_name = cfg.filename or 'config'
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint {checkpoint}: no such file')
    ckpt = safe_load_checkpoint(checkpoint, map_location='cpu')
    state = state_dict_of(ckpt, checkpoint)

    model_cfg = cfg.model.copy()
    model_cfg['train_cfg'] = None
    model_cfg['pretrained'] = None
    for part in ('backbone', 'decode_head'):
        if isinstance(model_cfg.get(part), dict):
            model_cfg[part][
                'init_cfg'] = None  # no pretrained download: weights come next
    _sync_bn_to_bn(model_cfg)
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    model = MODELS.build(model_cfg)
    check_state_dict(model, state, checkpoint, config_name)
    model.load_state_dict(state, strict=False)

    meta = ckpt.get('meta', {}) if isinstance(ckpt, dict) else {}
    model.dataset_meta = (meta or {}).get('dataset_meta')
    model.cfg = cfg
    model.to(resolve_device(device))
    model.eval()
    return model
