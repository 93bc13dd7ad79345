"""Build a segmentor from a config and load a checkpoint into it, checked.

mmengine's loader only warns when a checkpoint does not fit the model (e.g.
it was trained for another number of classes) and then predicts with random
weights. Here a missing or mis-shaped parameter is an error that names the
checkpoint.
"""
import os.path as osp
from typing import Dict, Optional, Union

import torch
from mmengine.config import Config
from mmengine.logging import print_log
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


def _state_dict_of(checkpoint: dict, path: str) -> Dict[str, Tensor]:
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


def check_state_dict(model: torch.nn.Module, state: Dict[str, Tensor],
                     checkpoint: str, config_name: str) -> None:
    """Raise if ``state`` does not fit ``model``.

    Args:
        model (torch.nn.Module): The model built from the config.
        state (dict[str, Tensor]): The checkpoint's state dict.
        checkpoint (str): Its file, for messages.
        config_name (str): The config file, for messages.

    Raises:
        ValueError: Missing or mis-shaped parameters; names the checkpoint,
            the config and the first offending keys. A different number of
            classes is reported as such.
    """
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
    mismatched = [
        f'{k} {tuple(state[k].shape)} vs {tuple(v.shape)}'
        for k, v in own.items() if k in state and state[k].shape != v.shape
    ]
    if mismatched:
        raise ValueError(
            f'checkpoint {checkpoint} does not fit the model of config '
            f'{config_name}: parameter shapes differ (checkpoint vs model): '
            f"{'; '.join(mismatched[:3])}" +
            (' ...' if len(mismatched) > 3 else ''))
    # BN's num_batches_tracked is bookkeeping that older checkpoints may lack
    missing = [
        k for k in own
        if k not in state and not k.endswith('num_batches_tracked')
    ]
    if missing:
        raise ValueError(
            f'checkpoint {checkpoint} does not fit the model of config '
            f'{config_name}: {len(missing)} parameters are missing, e.g. '
            f"{', '.join(missing[:3])}")
    unexpected = [k for k in state if k not in own]
    if unexpected:
        print_log(
            f'checkpoint {checkpoint}: ignoring {len(unexpected)} entries '
            f"the model does not have, e.g. {', '.join(unexpected[:3])}",
            logger='current',
            level=30)


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
        ValueError: The checkpoint does not fit the config's model (e.g.
            another number of classes), or holds no state dict.
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
    state = _state_dict_of(ckpt, checkpoint)

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
