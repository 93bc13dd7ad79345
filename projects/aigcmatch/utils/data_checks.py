"""Checks of the datasets a config names, before any GPU time is spent.

Three things, shared by ``tools/train.py`` and ``tools/test.py`` (at
start-up) and ``tools/check_dataset.py`` (on demand, everything):

* **leakage**: the splits actually configured — after ``--cfg-options``, not
  the names a config file once wrote — share no patient where that would leak
  (labeled vs val/test, unlabeled vs labeled/val/test;
  :func:`split_overlap_problems`);
* ``disjoint_with`` of the unlabeled datasets is derived from those splits
  (:func:`derive_disjoint_with`), so overriding the labeled split cannot leave
  it pointing at the old one; the strong views the unlabeled pipelines pack
  are the model's ``strong_views`` (:func:`derive_strong_views`);
* **files and values**: every file of every dataset opens and holds what its
  mode needs, and, per level, label values lie within the classes
  (``'labels'``) and images are finite (``'full'``)
  (:func:`check_config_data`).
"""
import os.path as osp
import sys
from dataclasses import dataclass
from typing import FrozenSet, Iterable, List, Optional, Sequence, Tuple

from mmengine.config import Config

from .cli import UserError
from .config import dataloader_configs, dataset_configs, model_num_classes

#: Overlap group of each dataloader: mix draws from the unlabeled pool.
GROUPS = dict(
    train_dataloader='labeled',
    unlabeled_dataloader='unlabeled',
    mix_dataloader='unlabeled',
    val_dataloader='val',
    test_dataloader='test')

#: Pairs of groups that must share no patient for a run to be sound: the
#: labeled set vs what evaluates the model, and the unlabeled set vs
#: everything else. (val vs test is a protocol choice, e.g. UniMatch's
#: ``valtest``; ``tools/check_dataset.py`` reports it too.)
LEAKAGE_PAIRS: FrozenSet[FrozenSet[str]] = frozenset(
    frozenset(pair)
    for pair in (('labeled', 'val'), ('labeled', 'test'),
                 ('unlabeled', 'labeled'), ('unlabeled', 'val'),
                 ('unlabeled', 'test')))

#: What :func:`check_config_data` reads per level.
LEVELS = ('headers', 'labels', 'full')


@dataclass(frozen=True)
class ConfiguredSplit:
    """The split one dataset of a config uses.

    Args:
        group (str): ``labeled``, ``unlabeled``, ``val`` or ``test``.
        where (str): The dataset's place in the config, e.g.
            ``train_dataloader.dataset``.
        path (str): The resolved split file.
        patients (frozenset[str]): The patients it names.
    """
    group: str
    where: str
    path: str
    patients: FrozenSet[str]


def _split_dataset_class(ds_cfg: dict) -> Optional[type]:
    """The class of a dataset config if it reads split files, else None."""
    from mmseg.registry import DATASETS

    from ..datasets import H5SliceDataset
    kind = ds_cfg.get('type')
    cls = DATASETS.get(kind) if isinstance(kind, str) else kind
    if isinstance(cls, type) and issubclass(cls, H5SliceDataset) and \
            'split' in ds_cfg:
        return cls
    return None


def reads_mix_loader(cfg: Config) -> bool:
    """Whether the model takes CutMix partners from ``mix_dataloader``
    (``WeakToStrongSegmentor.train_branches``); the training loop builds
    that loader only then, so only then is it checked."""
    model = cfg.get('model') or {}
    return bool(model.get('image_perturbation')) and model.get(
        'mix_source') == 'loader'


def _checked_loaders(cfg: Config):
    """``(key, loader)`` of the dataloaders a run would build."""
    mix = reads_mix_loader(cfg)
    return [(key, loader) for key, loader in dataloader_configs(cfg)
            if key in GROUPS and (key != 'mix_dataloader' or mix)]


def _leaves(cfg: Config) -> List[Tuple[str, str, dict]]:
    """``(loader key, where, dataset config)`` of every leaf dataset."""
    leaves = []
    for key, loader in _checked_loaders(cfg):
        if not isinstance(loader.get('dataset'), dict):
            continue
        for where, ds_cfg in dataset_configs(loader['dataset'],
                                             f'{key}.dataset'):
            leaves.append((key, where, ds_cfg))
    return leaves


def configured_splits(
    cfg: Config,
    keys: Optional[Iterable[str]] = None
) -> Tuple[List[ConfiguredSplit], List[str]]:
    """The splits the config's datasets use, read without touching data.

    Args:
        cfg (Config): The config.
        keys (Iterable[str], optional): Dataloader keys to report problems
            of (a split that cannot be read); others are skipped silently.
            None reports all.

    Returns:
        tuple[list[ConfiguredSplit], list[str]]: The splits, and one
        ``[where] message`` per split that cannot be resolved or read.
    """
    from ..datasets import DEFAULT_PATIENT_PATTERN, read_split, resolve_split
    from ..datasets.split_files import patients_of_split

    splits, problems = [], []
    for key, where, ds_cfg in _leaves(cfg):
        cls = _split_dataset_class(ds_cfg)
        if cls is None:
            continue
        try:
            path = resolve_split(ds_cfg['split'], cls.SPLITS_DIR,
                                 ds_cfg.get('data_root'))
            patients = patients_of_split(
                read_split(path),
                ds_cfg.get('patient_pattern', DEFAULT_PATIENT_PATTERN))
        except (ValueError, OSError, TypeError) as err:
            if keys is None or key in keys:
                problems.append(f'[{where}] {err}')
            continue
        splits.append(
            ConfiguredSplit(GROUPS[key], where, path, frozenset(patients)))
    return splits, problems


def split_overlap_problems(splits: Sequence[ConfiguredSplit],
                           leakage_only: bool = False) -> List[str]:
    """Patients shared by the splits of two groups.

    One split file used for both val and test (e.g. ``valtest``) is allowed.

    Args:
        splits (Sequence[ConfiguredSplit]): From :func:`configured_splits`.
        leakage_only (bool): Only the pairs in :data:`LEAKAGE_PAIRS` (not
            val vs test). Defaults to False.

    Returns:
        list[str]: One ``[where / where] message`` per overlapping pair.
    """
    problems = []
    for i, a in enumerate(splits):
        for b in splits[i + 1:]:
            if a.group == b.group:
                continue
            if leakage_only and frozenset((a.group, b.group)) not in \
                    LEAKAGE_PAIRS:
                continue
            if {a.group, b.group} == {'val', 'test'} and osp.samefile(
                    a.path, b.path):
                continue  # one split for both on purpose (e.g. valtest)
            shared = sorted(a.patients & b.patients)
            if shared:
                more = (f' and {len(shared) - 10} more'
                        if len(shared) > 10 else '')
                problems.append(
                    f'[{a.where} / {b.where}] {a.group} split {a.path} and '
                    f'{b.group} split {b.path} share patient(s) '
                    f'{", ".join(shared[:10])}{more}; expected no patient in '
                    'two of labeled / unlabeled / val / test')
    return problems


def derive_disjoint_with(cfg: Config) -> None:
    """Set ``disjoint_with`` of every unlabeled (and mix) dataset to the
    labeled, val and test splits the config actually uses.

    A config file's literal list goes stale when a user overrides the
    labeled split (``--cfg-options train_dataloader.dataset.split=...``):
    the unlabeled dataset would still be checked against the old one. The
    derived list holds resolved paths; splits that cannot be resolved are
    left out (their own dataset reports them).

    Args:
        cfg (Config): The config, changed in place.
    """
    splits, _ = configured_splits(cfg)
    others = list(
        dict.fromkeys(s.path for s in splits if s.group != 'unlabeled'))
    for key, _, ds_cfg in _leaves(cfg):
        if GROUPS[key] == 'unlabeled' and _split_dataset_class(ds_cfg):
            ds_cfg['disjoint_with'] = list(others)


def derive_strong_views(cfg: Config) -> None:
    """Make the model's ``strong_views`` the one list of strong views.

    Every ``PackMultiViewInputs`` of the unlabeled (and mix) pipelines that
    does not name its views packs the model's; one that names others is an
    error, so no view is augmented and packed that nothing reads (or read
    that nothing packs).

    Args:
        cfg (Config): The config, changed in place.

    Raises:
        UserError: A pipeline names strong views other than the model's.
    """
    views = cfg.get('model', {}).get('strong_views')
    if views is None:
        return
    for key in ('unlabeled_dataloader', 'mix_dataloader'):
        dataset = (cfg.get(key) or {}).get('dataset') or {}
        for i, step in enumerate(dataset.get('pipeline') or []):
            if not (isinstance(step, dict)
                    and step.get('type') == 'PackMultiViewInputs'):
                continue
            packed = step.get('strong_views')
            if packed is None:
                step['strong_views'] = list(views)
            elif list(packed) != list(views):
                raise UserError(
                    f'{key}.dataset.pipeline[{i}] (PackMultiViewInputs) '
                    f'packs strong_views {list(packed)} but model.'
                    f'strong_views is {list(views)}: leave the pipeline\'s '
                    'strong_views out (the model\'s are packed) or make '
                    'them equal')


def check_config_data(cfg: Config,
                      level: str = 'full',
                      progress: bool = False,
                      keys: Optional[Iterable[str]] = None,
                      leakage_only: bool = False
                      ) -> Tuple[List[str], List[str]]:
    """Check the datasets of a config: files, values and split overlaps.

    Every dataset of ``keys`` is built lazily and its files checked
    (:meth:`H5SliceDataset.check_data`); the splits of all datasets are
    compared for shared patients.

    Args:
        cfg (Config): The config (custom imports done).
        level (str): ``'headers'`` (keys, shapes, dtypes: what a dataset
            checks when it is built), ``'labels'`` (also every label's
            values: cheap, labels are small) or ``'full'`` (also NaN/inf in
            every image). Defaults to 'full'.
        progress (bool): Progress bars on stderr. Defaults to False.
        keys (Iterable[str], optional): Dataloader keys whose files to check
            (e.g. only ``test_dataloader`` for a test run). None: all.
        leakage_only (bool): Compare only the pairs of
            :data:`LEAKAGE_PAIRS` (not val vs test). Defaults to False.

    Returns:
        tuple[list[str], list[str]]: One summary line per dataset checked,
        and every problem as ``[where] message``.
    """
    from mmengine.registry import init_default_scope
    from mmseg.registry import DATASETS

    if level not in LEVELS:
        raise ValueError(f'level={level!r}; expected one of {LEVELS}')
    init_default_scope(cfg.get('default_scope', 'mmseg'))
    keys = None if keys is None else set(keys)
    summary, problems = [], []
    num_classes = model_num_classes(cfg)
    for key, loader in _checked_loaders(cfg):
        if keys is not None and key not in keys:
            continue
        if 'dataset' not in loader:
            problems.append(f'[{key}] no "dataset"; expected a dataset '
                            'config in the dataloader')
            continue
        for where, ds_cfg in dataset_configs(loader['dataset'],
                                             f'{key}.dataset'):
            build_cfg = dict(ds_cfg, lazy_init=True)
            if _split_dataset_class(ds_cfg):
                # overlaps are compared once, for all splits, below
                build_cfg['disjoint_with'] = None
            try:
                dataset = DATASETS.build(build_cfg)
            except Exception as err:  # any build error is a finding here
                problems.append(f'[{where}] cannot be built: {err}')
                continue
            if not hasattr(dataset, 'check_data'):
                summary.append(f'{where}: {type(dataset).__name__} has no '
                               'file checks; not checked')
                continue
            if progress:
                print(f'{where}: {dataset.split_path}', file=sys.stderr)
            found = dataset.check_data(
                level != 'headers', progress, check_images=level == 'full')
            problems += [f'[{where}] {p.message}' for p in found]
            classes = dataset.metainfo.get('classes') or ()
            if num_classes is not None and len(classes) != num_classes:
                problems.append(
                    f'[{where}] the dataset has {len(classes)} classes '
                    f'{tuple(classes)} but model.decode_head.num_classes is '
                    f'{num_classes}; expected the same number')
            summary.append(
                f'{where}: {type(dataset).__name__} split '
                f'{dataset.split_path} (mode {dataset.mode!r}): '
                f'{len(found)} problem(s)')
    # splits of the datasets checked above were reported by their build
    others = None if keys is None else set(GROUPS) - keys
    splits, split_problems = configured_splits(cfg, keys=others or ())
    problems += split_problems
    problems += split_overlap_problems(splits, leakage_only)
    return summary, problems


def check_data_at_startup(cfg: Config, keys: Optional[Iterable[str]],
                          config_name: str) -> None:
    """What ``tools/train.py`` and ``tools/test.py`` check before building
    the runner: derived ``disjoint_with``, split leakage, and every file of
    the datasets of ``keys`` at the ``'labels'`` level (headers and label
    values; see :func:`check_config_data`).

    Args:
        cfg (Config): The config, ``disjoint_with`` and the packed strong
            views derived in place.
        keys (Iterable[str], optional): Dataloaders whose files to check;
            None: all.
        config_name (str): The config file, for the message.

    Raises:
        UserError: One line per problem (a single problem is one line).
    """
    derive_disjoint_with(cfg)
    derive_strong_views(cfg)
    _, problems = check_config_data(
        cfg, level='labels', keys=keys, leakage_only=True)
    if len(problems) == 1:
        raise UserError(f'{problems[0]} (found at start-up; '
                        f'tools/check_dataset.py {config_name} checks '
                        'everything)')
    if problems:
        raise UserError(
            f'{len(problems)} problem(s) in the datasets of {config_name}, '
            'found at start-up (tools/check_dataset.py checks everything):\n' +
            '\n'.join(f'  {p}' for p in problems))
