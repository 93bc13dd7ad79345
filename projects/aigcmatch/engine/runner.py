"""mmengine's Runner, keeping the experiment a config describes whatever
tool runs it and on how many processes.

The shipped configs name it (``runner_type = 'AIGCMatchRunner'``), so
mmseg's own ``tools/train.py`` / ``tools/test.py`` and ``mim train`` /
``mim test``, which build ``RUNNERS.build(cfg)`` for a config with a
``runner_type``, get the same behaviour as ``tools/train.py`` here:

* **Total batch.** With ``batch_size_scope = 'total'`` (the shipped configs)
  the training loaders' ``batch_size`` is the batch of one step over all
  processes: each of N processes loads ``batch_size / N``, so
  ``dist_train.sh CONFIG 4`` trains UniMatch's 12 + 12 per step, not
  48 + 48. ``'per_process'`` (or no key) is mmengine's meaning.
* **The log says it:** world size, per-process and total batch and the lr
  the optimizer starts with (after mmengine's ``auto_scale_lr``, if on).
* **Overrides follow.** Compared with the config file as written: a new
  ``train_cfg.max_iters`` (or top-level ``max_iters``) moves the parameter
  schedulers and the warm-up hooks with it, and a new top-level
  ``data_root`` re-points every dataset that used the old one (config
  variables are resolved when the file is read, so ``--cfg-options
  data_root=...`` alone reaches no dataset).
"""
import copy
import os.path as osp
from typing import Any, Dict, List, Optional, Tuple

from mmengine.config import Config
from mmengine.registry import LOOPS, RUNNERS
from mmengine.runner import Runner, TestLoop

from ..utils.config import propagate_data_root

#: Training loaders whose batch the scope applies to (also in train_cfg).
TRAIN_LOADERS = ('train_dataloader', 'unlabeled_dataloader', 'mix_dataloader')
BATCH_SIZE_SCOPES = ('total', 'per_process')


def _train_loaders(cfg: Any) -> List[Tuple[str, dict]]:
    """``(key, loader config)`` of the training loaders of a config (the
    unlabeled and mix loaders may sit in ``train_cfg``)."""
    found = []
    train_cfg = cfg.get('train_cfg') or {}
    for key in TRAIN_LOADERS:
        for where, holder in ((key, cfg), (f'train_cfg.{key}', train_cfg)):
            loader = holder.get(key) if hasattr(holder, 'get') else None
            if isinstance(loader, dict) and 'batch_size' in loader:
                found.append((where, loader))
    return found


def batch_size_scope(cfg: Any) -> str:
    """The config's ``batch_size_scope`` (``'per_process'`` if unset).

    Raises:
        ValueError: Another value.
    """
    scope = cfg.get('batch_size_scope') or 'per_process'
    if scope not in BATCH_SIZE_SCOPES:
        raise ValueError(f'batch_size_scope is {scope!r}; expected one of '
                         f'{BATCH_SIZE_SCOPES}')
    return scope


def split_total_batch(loaders: List[Tuple[str, dict]],
                      world_size: int) -> Dict[str, Tuple[int, int]]:
    """Give each of ``world_size`` processes ``batch_size / world_size``.

    Args:
        loaders (list): ``(key, loader config)``, changed in place.
        world_size (int): Number of processes.

    Returns:
        dict: key -> (total, per process).

    Raises:
        ValueError: A total that the processes cannot share equally (DDP
            averages the processes' gradients with equal weights, so unequal
            shares would not be the mean over the total batch).
    """
    sizes = {}
    done = {}  # one loader config listed twice (aliased) is split once
    for key, loader in loaders:
        if id(loader) in done:
            sizes[key] = done[id(loader)]
            continue
        total = int(loader['batch_size'])
        if total % world_size:
            fits = [n for n in range(1, total + 1) if total % n == 0]
            raise ValueError(
                f'{key}.batch_size is {total}, the total batch of one step '
                f"(batch_size_scope='total'), and {world_size} processes "
                'cannot share it equally: run '
                f'{", ".join(map(str, fits))} processes, change the total '
                f'(--cfg-options {key}.batch_size=...), or set '
                "batch_size_scope='per_process' to give every process "
                f'{total} ({total * world_size} in total)')
        loader['batch_size'] = total // world_size
        sizes[key] = done[id(loader)] = (total, total // world_size)
    return sizes


def check_total_batch(cfg: Any, world_size: int) -> None:
    """Raise now, before any process builds anything, if ``world_size``
    processes cannot share the config's total batch (see
    :func:`split_total_batch`); the config is not changed."""
    if world_size > 1 and batch_size_scope(cfg) == 'total':
        split_total_batch(copy.deepcopy(_train_loaders(cfg)), world_size)


def _scaled(value: int, old: int, new: int) -> int:
    return max(1, int(round(value * new / old))) if value > 0 else value


def follow_max_iters(cfg: Any, written: Config) -> List[str]:
    """Move the schedule and the warm-up with an overridden ``max_iters``.

    A scheduler that ended at the written ``train_cfg.max_iters`` ends at
    the new one; one that ended earlier (a warm-up) keeps its share of the
    run, as does a hook's ``warmup_iters``. Schedulers or hooks that the
    caller changed as well (they differ from the file) are left as given.

    Args:
        cfg (Config): The config to run, changed in place.
        written (Config): The config file as written.

    Returns:
        list[str]: What was moved, for the log.
    """
    train_cfg = cfg.get('train_cfg') or {}
    old_train = written.get('train_cfg') or {}
    old = old_train.get('max_iters')
    if old is None or 'max_iters' not in train_cfg:
        return []
    # a top-level max_iters variable is read only when the file is: follow it
    if cfg.get('max_iters') not in (None, written.get('max_iters')) and \
            train_cfg['max_iters'] == old:
        train_cfg['max_iters'] = cfg['max_iters']
    new = train_cfg['max_iters']
    if new == old or not isinstance(new, int) or not isinstance(old, int) \
            or old <= 0:
        return []
    notes = []
    schedulers = cfg.get('param_scheduler') or []
    written_schedulers = written.get('param_scheduler') or []
    listed = schedulers if isinstance(schedulers, list) else [schedulers]
    written_listed = written_schedulers if isinstance(
        written_schedulers, list) else [written_schedulers]
    for i, sched in enumerate(listed):
        if not isinstance(sched, dict) or sched.get('by_epoch', True):
            continue
        if i >= len(written_listed) or sched != written_listed[i]:
            continue  # set by the caller too: theirs
        end = sched.get('end')
        if not isinstance(end, int) or end > old:
            continue
        begin = sched.get('begin', 0)
        sched['end'] = new if end == old else _scaled(end, old, new)
        if isinstance(begin, int) and begin > 0:
            sched['begin'] = min(_scaled(begin, old, new), sched['end'] - 1)
        notes.append(f'param_scheduler[{i}] {sched.get("type")} end '
                     f'{end} -> {sched["end"]}')
    written_warmups = [(h.get('type'), h['warmup_iters'])
                       for h in written.get('custom_hooks') or []
                       if isinstance(h, dict) and 'warmup_iters' in h]
    for hook in cfg.get('custom_hooks') or []:
        if not isinstance(hook, dict) or not isinstance(
                hook.get('warmup_iters'), int):
            continue
        before = hook['warmup_iters']
        if (hook.get('type'), before) not in written_warmups:
            continue  # set by the caller too: theirs
        hook['warmup_iters'] = _scaled(before, old, new)
        notes.append(f'{hook.get("type")} warmup_iters {before} -> '
                     f'{hook["warmup_iters"]}')
    head = f'train_cfg.max_iters {old} -> {new}'
    if not notes:
        return [f'{head}; no iteration-based scheduler or warm-up ended at '
                f'{old} to move']
    return [f'{head}: moved ' + ', '.join(notes)]


def follow_data_root(cfg: Any, written: Config) -> List[str]:
    """Point every dataset that used the written ``data_root`` at the
    config's (overridden) one; datasets pointed elsewhere on purpose stay.

    Returns:
        list[str]: What was changed, for the log.
    """
    old, new = written.get('data_root'), cfg.get('data_root')
    if old is None or new is None or old == new:
        return []
    changed = propagate_data_root(cfg, old, new)
    if not changed:
        return []
    return [f'data_root {old} -> {new}: re-pointed {changed} dataset '
            'config(s) that used it']


def _written_config(cfg: Any) -> Optional[Config]:
    filename = getattr(cfg, 'filename', None)
    if not filename or not osp.isfile(filename):
        return None
    try:
        return Config.fromfile(filename)
    except Exception:  # noqa: BLE001  (a config we cannot re-read: no diff)
        return None


@RUNNERS.register_module()
class AIGCMatchRunner(Runner):
    """mmengine's ``Runner`` that keeps the experiment of the config.

    See the module docstring: the training loaders' batch as a total over
    all processes (``batch_size_scope='total'``), one log line with world
    size, per-process and total batch and the starting lr, and overrides of
    ``max_iters`` / ``data_root`` that the schedule and the datasets follow.
    Everything else is mmengine's ``Runner``.
    """

    @classmethod
    def from_cfg(cls, cfg) -> 'AIGCMatchRunner':
        """Build from a config, after following its overrides.

        Args:
            cfg (Config): The config (not changed).

        Returns:
            AIGCMatchRunner: The runner.
        """
        cfg = copy.deepcopy(cfg)
        notes: List[str] = []
        written = _written_config(cfg)
        if written is not None:
            notes += follow_data_root(cfg, written)
            notes += follow_max_iters(cfg, written)
            if notes and cfg.get('resume'):
                notes.append('a resumed run continues the schedule saved in '
                             'its checkpoint')
        # the unlabeled pipelines pack the model's strong views (also when
        # mmseg's own tools build this runner)
        from ..utils.data_checks import derive_strong_views
        derive_strong_views(cfg)
        runner = super().from_cfg(cfg)
        for note in notes:
            runner.logger.info(f'config follows its overrides: {note}')
        return runner

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._batch_sizes: Dict[str, Tuple[int, int]] = {}
        self._batch_scope = batch_size_scope(self.cfg)

    def build_train_loop(self, loop):
        """Split the total batch over the processes (only when training:
        a test run never builds these loaders), then mmengine's loop."""
        if isinstance(loop, dict) and not self._batch_sizes:
            loaders = _train_loaders(self.cfg)
            # the dicts the loop builds from: the labeled one is the
            # runner's own, the others the loop reads from cfg or train_cfg
            if isinstance(self._train_dataloader, dict):
                loaders = [(k, self._train_dataloader
                            if k == 'train_dataloader' else v)
                           for k, v in loaders]
            loaders = [(k, loop[k[len('train_cfg.'):]]
                        if k.startswith('train_cfg.') else v)
                       for k, v in loaders]
            if self._batch_scope == 'total':
                self._batch_sizes = split_total_batch(loaders,
                                                      self.world_size)
            else:
                self._batch_sizes = {
                    k: (int(v['batch_size']) * self.world_size,
                        int(v['batch_size']))
                    for k, v in loaders
                }
        return super().build_train_loop(loop)

    def scale_lr(self, optim_wrapper, auto_scale_lr=None) -> None:
        """mmengine's ``auto_scale_lr``, then one line with the world size,
        the batch per process and in total, and the lr training starts with.
        """
        super().scale_lr(optim_wrapper, auto_scale_lr)
        # the loaders the loop built (a mix loader only for a model that
        # reads it); mmengine's IterBasedTrainLoop has the labeled one only
        built = getattr(self.train_loop, 'loaders', None) or dict(labeled=1)
        names = dict(train_dataloader='labeled',
                     unlabeled_dataloader='unlabeled', mix_dataloader='mix')
        per, total = [], []
        for key, (tot, one) in self._batch_sizes.items():
            name = names[key.split('.')[-1]]
            if name not in built:
                continue
            label = 'mix partners' if name == 'mix' else name
            per.append(f'{one} {label}')
            total.append(f'{tot} {label}')
        try:
            lrs = optim_wrapper.get_lr()
            lr = next(iter(lrs.values()))[0]
            lr_text = f'{lr:g}'
        except (AttributeError, IndexError, StopIteration, TypeError):
            lr_text = 'unknown'
        scaling = 'on' if (auto_scale_lr or {}).get('enable') else 'off'
        self.logger.info(
            f'world size {self.world_size}; batch per process '
            f'{" + ".join(per) or "?"}; total batch per step '
            f'{" + ".join(total) or "?"} (batch_size_scope='
            f"'{self._batch_scope}'); lr {lr_text} (auto_scale_lr "
            f'{scaling})')


@LOOPS.register_module()
class AIGCMatchTestLoop(TestLoop):
    """mmengine's ``TestLoop`` whose datasets follow a ``data_root``
    override.

    mmseg 1.2's own ``tools/test.py`` builds mmengine's ``Runner`` whatever
    the config's ``runner_type`` says, and merges ``--cfg-options
    data_root=...`` into the top level only; the test loop is the first
    thing it builds that sees both the config and the test loader before the
    dataset exists, so the re-pointing happens here too (a no-op after
    :class:`AIGCMatchRunner` or the project's tools did it).
    """

    def __init__(self, runner, dataloader, evaluator, fp16: bool = False):
        if isinstance(dataloader, dict):
            cfg = getattr(runner, 'cfg', None)
            written = _written_config(cfg) if cfg is not None else None
            if written is not None:
                old, new = written.get('data_root'), cfg.get('data_root')
                if old is not None and new is not None and old != new:
                    changed = propagate_data_root(
                        dict(test_dataloader=dataloader), old, new)
                    if changed:
                        runner.logger.info(
                            f'config follows its overrides: data_root {old} '
                            f'-> {new}: re-pointed the test dataset')
        super().__init__(runner, dataloader, evaluator, fp16)
