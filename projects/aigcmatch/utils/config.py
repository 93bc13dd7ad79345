"""Config loading for the tools: clear errors, checked overrides, one data
root."""
import argparse
import difflib
import glob
import os
import os.path as osp
from typing import Any, Dict, List, Optional

from mmengine.config import Config, DictAction

from .cli import UserError

_MISSING = object()


def load_config(path: str) -> Config:
    """``Config.fromfile`` with a one-line error for a wrong path."""
    if not osp.isfile(path):
        hint = ''
        here = glob.glob(osp.join(osp.dirname(path) or '.', '*.py'))
        close = difflib.get_close_matches(path, here, n=1)
        if close:
            hint = f' (did you mean {close[0]}?)'
        raise UserError(f'config file "{path}" not found{hint}')
    return Config.fromfile(path)


def _lookup(node: Any, key: str) -> Any:
    if isinstance(node, (list, tuple)):
        if key.isdigit() and int(key) < len(node):
            return node[int(key)]
        return _MISSING
    if isinstance(node, dict):
        return node.get(key, _MISSING)
    return _MISSING


def _check_option(cfg: Config, full_key: str, value: Any,
                  allow_new_keys: bool) -> Any:
    """Raise unless ``full_key`` exists (or may be added) and ``value`` has
    the kind of the current value; return the value to merge."""
    node: Any = cfg._cfg_dict
    parts = full_key.split('.')
    for depth, part in enumerate(parts):
        child = _lookup(node, part)
        if child is _MISSING:
            is_leaf = depth == len(parts) - 1
            if allow_new_keys and is_leaf and isinstance(node, dict):
                return value
            where = '.'.join(parts[:depth]) or 'the config'
            options = list(node.keys()) if isinstance(node, dict) else []
            close = difflib.get_close_matches(part, options, n=1)
            hint = f'; did you mean "{close[0]}"?' if close else ''
            extra = ('' if allow_new_keys else
                     ' (pass --allow-new-keys to add a key on purpose)')
            raise UserError(f'--cfg-options {full_key}: "{part}" is not a key '
                            f'of {where}{hint}{extra}')
        node = child
    return _checked_number(full_key, node, value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


#: Keys whose number may be replaced by one number per class
#: (``model.conf_thresh=[0.95,0.8,0.8,0.8]``); :func:`check_num_classes`
#: checks the length.
PER_CLASS_KEYS = ('model.conf_thresh', )


def _checked_number(full_key: str, old: Any, value: Any) -> Any:
    """A number stays a number, an integer an integer (a list of numbers is
    also accepted for the keys of :data:`PER_CLASS_KEYS`).

    Without this, ``train_cfg.max_iters=10.5`` or ``train_cfg.max_iters=[5]``
    would fail deep inside the runner or the model with a traceback.
    """
    if not _is_number(old):
        return value
    if full_key in PER_CLASS_KEYS and isinstance(
            value, (list, tuple)) and value and all(
                _is_number(v) for v in value):
        return list(value)
    if not _is_number(value):
        raise UserError(f'--cfg-options {full_key}={value!r}: expected a '
                        f'number like the current value {old!r}')
    if isinstance(old, int) and isinstance(value, float):
        if not value.is_integer():
            raise UserError(
                f'--cfg-options {full_key}={value!r}: expected an integer '
                f'like the current value {old!r}')
        return int(value)
    return value


def apply_cfg_options(cfg: Config,
                      options: Optional[Dict[str, Any]],
                      allow_new_keys: bool = False) -> None:
    """Merge ``--cfg-options`` after checking every key exists.

    mmengine silently creates keys that do not exist, so a typo such as
    ``train_cfg.max_iter=100`` would train with the old value. Here every key
    must exist (unless ``allow_new_keys``), a number stays a number and an
    integer an integer (``10.0`` becomes ``10``).
    ``data_root=...`` also re-points every dataset (see
    :func:`propagate_data_root`).
    """
    if not options:
        return
    old_root = cfg.get('data_root')
    options = {
        key: _check_option(cfg, key, value, allow_new_keys)
        for key, value in options.items()
    }
    cfg.merge_from_dict(options)
    if 'data_root' in options and old_root is not None:
        propagate_data_root(cfg, old_root, options['data_root'])


def _datasets(node: Any) -> List[dict]:
    found = []
    if isinstance(node, dict):
        if 'data_root' in node:
            found.append(node)
        for value in node.values():
            found.extend(_datasets(value))
    elif isinstance(node, (list, tuple)):
        for value in node:
            found.extend(_datasets(value))
    return found


def propagate_data_root(cfg: Config, old_root: str, new_root: str) -> int:
    """Point every dataset whose ``data_root`` was ``old_root`` at
    ``new_root``.

    Config variables are resolved when the file is read, so overriding the
    top-level ``data_root`` alone would not reach the datasets built from it.
    Returns the number of datasets changed.
    """
    changed = 0
    for node in _datasets({k: v for k, v in cfg.items() if k != 'data_root'}):
        if node['data_root'] == old_root:
            node['data_root'] = new_root
            changed += 1
    return changed


def refuse_to_clobber_work_dir(work_dir: str, resume: bool) -> None:
    """Refuse to start a fresh run in a work dir that holds checkpoints.

    A second run would overwrite ``iter_*.pth`` and ``best_*.pth`` of the
    first. Resuming continues the earlier run and is allowed.
    """
    if resume or not osp.isdir(work_dir):
        return
    ckpts = sorted(glob.glob(osp.join(work_dir, '*.pth')))
    if ckpts or osp.exists(osp.join(work_dir, 'last_checkpoint')):
        shown = ', '.join(osp.basename(c) for c in ckpts[:3])
        raise UserError(
            f'work dir "{work_dir}" already holds checkpoints of an earlier '
            f'run ({shown or "last_checkpoint"}); pass --resume to continue '
            'that run, or choose another --work-dir (nothing was overwritten)')



def ensure_checkpoint_check(cfg: Config, partial_load: bool = False) -> None:
    """Make sure ``SafeCheckpointHook`` checks what the run will load.

    The shipped configs list the hook in ``custom_hooks``; a config that
    sets its own list may have dropped it, and then a checkpoint that does
    not fit the model would load with warnings only. The tools call this, so
    the check is on whatever the config says.

    Args:
        cfg (Config): The config, changed in place.
        partial_load (bool): Accept a ``load_from`` checkpoint that fits in
            part (``tools/train.py --partial-load``). Defaults to False.
    """
    hooks = list(cfg.get('custom_hooks') or [])
    checks = [
        h for h in hooks if isinstance(h, dict) and h.get('type') in (
            'SafeCheckpointHook', 'mmseg.SafeCheckpointHook')
    ]
    if not checks:
        checks = [dict(type='SafeCheckpointHook')]
        hooks.insert(0, checks[0])
    for hook in checks:
        hook['partial_load'] = bool(partial_load)
    cfg.custom_hooks = hooks


def ensure_atomic_checkpoints(cfg: Config) -> Optional[str]:
    """Make the checkpoint hook write atomically.

    mmengine's ``CheckpointHook`` removes the previous best (and the oldest
    kept) checkpoint before it writes the new one, in place: a kill or a full
    disk during that write loses it. ``AtomicCheckpointHook`` takes the same
    arguments and never does; a config that names mmengine's hook gets it
    instead.

    Args:
        cfg (Config): The config, changed in place.

    Returns:
        str | None: What was changed, for the log.
    """
    hook = (cfg.get('default_hooks') or {}).get('checkpoint')
    if not isinstance(hook, dict) or hook.get('type') not in (
            'CheckpointHook', 'mmengine.CheckpointHook'):
        return None
    hook['type'] = 'AtomicCheckpointHook'
    return ('default_hooks.checkpoint: CheckpointHook -> '
            'AtomicCheckpointHook (same options; writes are atomic, the '
            'previous best is removed only after the new one is complete)')


def add_config_args(parser: argparse.ArgumentParser) -> None:
    """The options every tool that runs a config shares (mmseg's names)."""
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value (e.g. '
        'data_root=/data/ACDC train_cfg.max_iters=1000)')
    parser.add_argument(
        '--allow-new-keys',
        action='store_true',
        help='let --cfg-options add keys the config does not have')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch'],
        default='none',
        help='job launcher (pytorch = torchrun; see tools/dist_*.sh)')
    # torch.distributed.launch passes --local-rank (PyTorch 2) or --local_rank
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def parse_tool_args(parser: argparse.ArgumentParser,
                    argv=None) -> argparse.Namespace:
    """Parse, and export ``LOCAL_RANK`` when a launcher passed it as an
    argument instead of an environment variable."""
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


#: The dataloaders a config may define (the last two may sit in train_cfg).
DATALOADER_KEYS = ('train_dataloader', 'unlabeled_dataloader',
                   'mix_dataloader', 'val_dataloader', 'test_dataloader')


def dataloader_configs(cfg: Config) -> List[tuple]:
    """``(key, dataloader config)`` of every dataloader the config defines
    (``unlabeled_dataloader``/``mix_dataloader`` may also be in
    ``train_cfg``)."""
    found = []
    train_cfg = cfg.get('train_cfg') or {}
    for key in DATALOADER_KEYS:
        loader = cfg.get(key) or train_cfg.get(key)
        if loader:
            found.append((key, loader))
    return found


def dataset_configs(dataset_cfg: dict, where: str) -> List[tuple]:
    """Leaf dataset configs under wrappers (``dataset``/``datasets`` keys of
    RepeatDataset, ConcatDataset, ...), each with where it sits."""
    if 'datasets' in dataset_cfg:
        leaves = []
        for i, child in enumerate(dataset_cfg['datasets']):
            leaves += dataset_configs(child, f'{where}.datasets.{i}')
        return leaves
    if 'dataset' in dataset_cfg:
        return dataset_configs(dataset_cfg['dataset'], f'{where}.dataset')
    return [(where, dataset_cfg)]


def _dataset_classes(dataset: Any) -> Optional[tuple]:
    """The class names a dataset config will have (None: unknown)."""
    if not isinstance(dataset, dict):
        return None
    metainfo = dataset.get('metainfo') or {}
    if metainfo.get('classes') is not None:
        return tuple(metainfo['classes'])
    from mmseg.registry import DATASETS
    kind = dataset.get('type')
    cls = DATASETS.get(kind) if isinstance(kind, str) else kind
    classes = (getattr(cls, 'METAINFO', None) or {}).get('classes')
    return None if classes is None else tuple(classes)


def model_num_classes(cfg: Config) -> Optional[int]:
    """``model.decode_head.num_classes`` of a config (None if not set)."""
    head = (cfg.get('model') or {}).get('decode_head')
    return head.get('num_classes') if isinstance(head, dict) else None


def check_num_classes(cfg: Config) -> None:
    """Refuse a config whose decode head predicts another number of classes
    than its datasets have (or than its per-class thresholds), before
    anything is built.

    The training pipeline checks every label against the dataset's classes
    when it loads it; this check ties those classes to the head, so the
    losses need not check labels again on every step (a host-device sync).
    """
    num_classes = model_num_classes(cfg)
    if num_classes is None:
        return
    thresh = (cfg.get('model') or {}).get('conf_thresh')
    if isinstance(thresh, (list, tuple)) and len(thresh) != num_classes:
        raise UserError(
            f'model.conf_thresh has {len(thresh)} values {list(thresh)}; '
            f'expected one per class ({num_classes}, '
            'model.decode_head.num_classes) or a single number')
    for key, loader in dataloader_configs(cfg):
        if not isinstance(loader.get('dataset'), dict):
            continue
        for where, dataset in dataset_configs(loader['dataset'],
                                              f'{key}.dataset'):
            classes = _dataset_classes(dataset)
            if classes is not None and len(classes) != num_classes:
                raise UserError(
                    f'model.decode_head.num_classes is {num_classes}, but '
                    f'{where} ({dataset.get("type")}) has {len(classes)} '
                    f'classes {list(classes)}: make them agree (e.g. '
                    f'--cfg-options model.decode_head.num_classes='
                    f'{len(classes)})')


def _loop_class(loop_type: Any) -> Optional[type]:
    if isinstance(loop_type, type):
        return loop_type
    if not isinstance(loop_type, str):
        return None
    from mmseg.registry import LOOPS
    return LOOPS.get(loop_type)


def _positive_int(value: Any) -> bool:
    return _is_number(value) and float(value).is_integer() and value > 0


def check_training_config(cfg: Config) -> None:
    """Refuse a training config that would train something else than it
    says, before anything is built.

    - ``train_cfg.max_iters`` (and ``val_interval``) must be positive
      integers: mmengine would stop with an assertion traceback.
    - A model with an image or feature perturbation
      (``model.image_perturbation`` / ``model.feature_perturbation``) learns
      from unlabeled data, so it needs a loop that feeds the ``'unlabeled'``
      branch (:class:`SemiSupervisedIterLoop`). mmengine's
      ``IterBasedTrainLoop`` feeds labeled batches only: the run would
      silently be a supervised baseline. A model without perturbations
      (SupBaseline) trains with either loop.

    Args:
        cfg (Config): The training config.

    Raises:
        UserError: Naming the key and what was expected.
    """
    # By registry name, not an import: the engine imports this module.
    from mmseg.registry import LOOPS
    semi_loop = LOOPS.get('SemiSupervisedIterLoop')
    train_cfg = cfg.get('train_cfg')
    if not isinstance(train_cfg, dict):
        raise UserError(f'train_cfg is {train_cfg!r}; expected a dict with '
                        "the training loop's type and max_iters")
    for key in ('max_iters', 'val_interval'):
        if key in train_cfg and not _positive_int(train_cfg[key]):
            raise UserError(f'train_cfg.{key} is {train_cfg[key]!r}; '
                            'expected a positive integer')
    model = cfg.get('model') or {}
    perturbations = []
    for key in ('image_perturbation', 'feature_perturbation'):
        module = model.get(key)
        if module:
            kind = module.get('type') if isinstance(module, dict) else module
            perturbations.append(f'{key}={kind}')
    if not perturbations:
        return
    loop_type = train_cfg.get('type')
    loop = _loop_class(loop_type)
    if loop is not None and issubclass(loop, semi_loop):
        return
    name = getattr(loop_type, '__name__', loop_type) or 'mmengine\'s default'
    raise UserError(
        f'train_cfg.type is {name}, a loop that feeds no unlabeled data, but '
        f'the model learns from unlabeled data ({", ".join(perturbations)}): '
        'the unlabeled loader would be ignored and this would train a '
        "supervised baseline. Use train_cfg.type='SemiSupervisedIterLoop', "
        'or for supervised training switch the perturbations off '
        '(model.image_perturbation=None model.feature_perturbation=None)')


def prepare_config(args: argparse.Namespace) -> Config:
    """Load ``args.config``, apply the checked ``--cfg-options``, set the
    launcher and the work dir (CLI > config file > ``work_dirs/<name>``)."""
    cfg = load_config(args.config)
    apply_cfg_options(cfg, args.cfg_options, args.allow_new_keys)
    check_num_classes(cfg)
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(args.config))[0])
    return cfg
