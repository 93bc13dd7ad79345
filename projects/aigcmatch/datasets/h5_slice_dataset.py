"""A dataset of 2D slices in the SSL4MIS/UniMatch h5 layout, any classes."""
import os
import os.path as osp
import random
import re
import sys
from collections import defaultdict
from contextlib import contextmanager
from typing import (Callable, Dict, Iterator, List, Optional, Sequence, Tuple,
                    Union)

import numpy as np
import torch
from mmengine.utils import ProgressBar
from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS, TRANSFORMS

from .h5_checks import (DataProblem, h5_value_problems, inspect_h5_header,
                        raise_problems)
from .split_checks import disjoint_problems, match_ids
from .split_files import DEFAULT_PATIENT_PATTERN, read_split, resolve_split

MODES = ('labeled', 'unlabeled', 'volume')

# A training slice file is ``<case id>_slice_<index>.h5``.
_SLICE_NAME = re.compile(r'^(?P<case>.+)_slice_(?P<index>\d+)\.h5$')


@DATASETS.register_module()
class H5SliceDataset(BaseSegDataset):
    """Slices of h5 files laid out as SSL4MIS/UniMatch distribute ACDC.

    .. code-block:: none

        data_root/data/slices/<case>_slice_<k>.h5  image, label (H, W)
        data_root/data/<case>.h5                   image, label (D, H, W)

    A split file names patients or cases (volumes), one per line; every slice
    or volume file whose case is named (or starts with ``<id>_``) is used, in
    split order, then by case and slice index. Modes:

    - ``'labeled'``: one sample per slice file, image and label.
    - ``'unlabeled'``: one sample per slice file; labels are never required
      nor loaded.
    - ``'volume'`` (val/test): one sample per slice of every volume file, with
      ``case_id``, ``slice_idx``, ``num_slices`` and, when the file has the
      attribute, ``spacing`` (sz, sy, sx) in mm.

    Files are checked when the dataset is built: every file named by the
    split must exist and its header must hold ``image`` (and ``label`` of the
    same shape, except in ``'unlabeled'`` mode). ``full_check=True`` also reads
    every array (NaN/inf, label range); the loaders check the slice they read
    either way. All problems found are raised together as one error;
    :meth:`check_data` returns them instead (``tools/check_dataset.py``).

    Indices that carry a ``sample_seed`` (from ``ResumableInfiniteSampler``)
    seed the pipeline's random draws per sample, see :meth:`__getitem__`.

    Each sample's data info holds ``img_path``, ``seg_map_path`` (None in
    ``'unlabeled'`` mode), ``case_id``, ``slice_idx``, ``num_classes`` (for the
    loader's range check) and, in ``'volume'`` mode, ``num_slices`` and
    ``spacing``.

    Args:
        split (str): A shipped split name (see ``SPLITS_DIR``) or the path of
            a split file (tried as given, then under ``data_root``).
        mode (str): ``'labeled'``, ``'unlabeled'`` or ``'volume'``.
        data_root (str): Root folder of the data. Required.
        data_prefix (dict): Folders under ``data_root``: ``slice_path`` for
            the slice files, ``volume_path`` for the volume files.
        disjoint_with (str | Sequence[str], optional): Splits (names or
            paths) that must share no patient with ``split``, e.g. the labeled
            split of an unlabeled dataset. Defaults to None.
        patient_pattern (str): Regular expression from a case id to its
            patient (see :func:`~.split_files.patient_of`); the default drops a
            ``_frameNN`` suffix.
        full_check (bool): Read every array at build time. Defaults to False.
        metainfo (dict, optional): ``classes`` and ``palette``; required when
            the class has no ``METAINFO`` of its own.
        pipeline (list): Transforms (configs are built from mmseg's registry,
            so no default scope is needed).
        test_mode (bool, optional): Defaults to ``mode == 'volume'``.
        **kwargs: Other arguments of :class:`mmseg.datasets.BaseSegDataset`
            (``indices``, ``serialize_data``, ``lazy_init``, ...).
    """

    #: Folder of the split files shipped for this dataset (None: no names).
    SPLITS_DIR: Optional[str] = None

    def __init__(self,
                 split: str,
                 mode: str = 'labeled',
                 data_root: Optional[str] = None,
                 data_prefix: Optional[dict] = None,
                 disjoint_with: Union[str, Sequence[str], None] = None,
                 patient_pattern: str = DEFAULT_PATIENT_PATTERN,
                 full_check: bool = False,
                 metainfo: Optional[dict] = None,
                 pipeline: Sequence[Union[dict, Callable]] = (),
                 test_mode: Optional[bool] = None,
                 **kwargs) -> None:
        name = type(self).__name__
        if mode not in MODES:
            raise ValueError(f'{name}: mode={mode!r}; expected one of {MODES}')
        if data_root is None:
            raise FileNotFoundError(
                f'{name}: data_root is not set; expected the folder holding '
                'data/slices/*.h5 and data/*.h5 (SSL4MIS/UniMatch layout)')
        if not osp.isdir(data_root):
            raise FileNotFoundError(
                f'{name}: data_root {data_root!r} is not a folder; expected '
                'the folder holding data/slices/*.h5 and data/*.h5 '
                '(SSL4MIS/UniMatch layout)')
        for key in ('ann_file', 'img_suffix', 'seg_map_suffix'):
            if key in kwargs:
                raise TypeError(f'{name} does not take {key!r}: files are '
                                'found from the split and data_root')
        self.mode = mode
        self.full_check = full_check
        self.patient_pattern = patient_pattern
        self.split_path = resolve_split(split, self.SPLITS_DIR, data_root)
        if isinstance(disjoint_with, str):
            disjoint_with = [disjoint_with]
        self.disjoint_with = [
            resolve_split(s, self.SPLITS_DIR, data_root)
            for s in (disjoint_with or [])
        ]
        prefix = dict(slice_path='data/slices', volume_path='data')
        prefix.update(data_prefix or {})
        # Built here, from mmseg's registry, so that the dataset also works
        # outside a Runner (no default scope set).
        pipeline = [
            TRANSFORMS.build(t) if isinstance(t, dict) else t for t in pipeline
        ]
        super().__init__(
            metainfo=metainfo,
            data_root=data_root,
            data_prefix=prefix,
            pipeline=pipeline,
            test_mode=(mode == 'volume') if test_mode is None else test_mode,
            **kwargs)
        # the metric states which split it evaluated (protocol in every log)
        self._metainfo['split'] = str(split)

    @property
    def num_classes(self) -> int:
        """Number of class indices the label files may hold."""
        # With a label_map the files keep the original (METAINFO) labelling.
        classes = (
            self.METAINFO.get('classes') or self._metainfo.get('classes'))
        return len(classes)

    def load_data_list(self) -> List[dict]:
        """Find and check the files of the split; one data info per slice.

        Every problem found (headers only, unless ``full_check``) is raised
        together, as one error listing them all.

        Returns:
            list[dict]: Data infos, in split order.
        """
        self._require_classes()
        infos, problems = self._scan(self.full_check, progress=False)
        raise_problems(problems)
        return infos

    def check_data(self,
                   full_check: bool = True,
                   progress: bool = False,
                   check_images: bool = True) -> List[DataProblem]:
        """Every problem of the split and its files, without raising.

        What :meth:`load_data_list` checks, on all files even after a
        problem: the split file reads, shares no patient with
        ``disjoint_with``, every id names files, each case is named once,
        every file opens and its header holds what the mode needs; with
        ``full_check`` also the values (NaN/inf images, labels outside the
        classes). Works on a dataset built with ``lazy_init=True``.

        Args:
            full_check (bool): Read every array. Defaults to True.
            progress (bool): Show a progress bar over the files (on stderr).
                Defaults to False.
            check_images (bool): With ``full_check``, read the images too
                (NaN/inf); False reads the labels only, which are small:
                what ``tools/train.py`` checks at start-up. Defaults to True.

        Returns:
            list[DataProblem]: The problems, in split order.
        """
        try:
            self._require_classes()
        except ValueError as err:
            return [DataProblem(self.split_path, str(err), ValueError)]
        return self._scan(full_check, progress, check_images)[1]

    def __getitem__(self, idx: int) -> dict:
        """The ``idx``-th sample after the pipeline.

        ``ResumableInfiniteSampler`` hands out indices that carry a
        ``sample_seed`` (its seed and the sample's position in its stream).
        The pipeline then runs with numpy's, Python's and torch's global
        random generators seeded from it and restored afterwards, so a
        sample's augmentation depends on its position only — not on the
        worker that loads it nor on what that worker loaded before — and a
        resumed run draws the augmentations the uninterrupted run would.

        Args:
            idx (int): Index of the sample (possibly carrying
                ``sample_seed``).

        Returns:
            dict: The sample.
        """
        key = getattr(idx, 'sample_seed', None)
        if key is None:
            return super().__getitem__(idx)
        with seeded_global_rngs(key):
            return super().__getitem__(int(idx))

    def _require_classes(self) -> None:
        if not (self.METAINFO.get('classes') or self._metainfo.get('classes')):
            raise ValueError(
                f'{type(self).__name__}: no classes; expected '
                'metainfo=dict(classes=(...)) naming every class index the '
                'label files hold')

    def _scan(self,
              full_check: bool,
              progress: bool,
              check_images: bool = True
              ) -> Tuple[List[dict], List[DataProblem]]:
        """Data infos and every problem found on the way."""
        try:
            ids = read_split(self.split_path)
        except (ValueError, OSError) as err:
            return [], [DataProblem(self.split_path, str(err), type(err))]
        problems = disjoint_problems(self.split_path, ids,
                                     self.disjoint_with, self.patient_pattern)
        if self.mode == 'volume':
            volumes, found = self._find_volumes(ids)
            files = [(case, path, None) for case, path in volumes]
        else:
            slices, found = self._find_slices(ids)
            files = [(case, path, int(_SLICE_NAME.match(osp.basename(path))
                                      ['index']))
                     for case, paths in slices for path in paths]
        problems += found
        bar = None
        if progress and files:
            bar = ProgressBar(len(files), file=sys.stderr)
        infos: List[dict] = []
        for case, path, index in files:
            if index is None:
                new_infos, new_problems = self._check_volume(
                    case, path, full_check, check_images)
            else:
                new_infos, new_problems = self._check_slice(
                    case, path, index, full_check, check_images)
            infos += new_infos
            problems += new_problems
            if bar is not None:
                bar.update()
        if bar is not None:
            sys.stderr.write('\n')
        return infos, problems

    def _find_slices(
        self, ids: List[str]
    ) -> Tuple[List[Tuple[str, List[str]]], List[DataProblem]]:
        folder = self.data_prefix['slice_path']
        if not osp.isdir(folder):
            return [], [
                DataProblem(
                    folder,
                    f'{type(self).__name__}: slice folder {folder!r} does '
                    'not exist; expected <data_root>/data/slices/'
                    '<case>_slice_<k>.h5 (set data_prefix=dict(slice_path='
                    '...) for another layout)', FileNotFoundError)
            ]
        by_case: Dict[str, List[Tuple[int, str]]] = defaultdict(list)
        for entry in os.scandir(folder):
            match = _SLICE_NAME.match(entry.name)
            if match and entry.is_file():
                by_case[match['case']].append(
                    (int(match['index']), entry.path))
        found, problems = match_ids(self.split_path, ids, list(by_case),
                                    folder)
        return [(case, [p for _, p in sorted(by_case[case])])
                for split_id in ids for case in found[split_id]], problems

    def _find_volumes(
        self, ids: List[str]
    ) -> Tuple[List[Tuple[str, str]], List[DataProblem]]:
        folder = self.data_prefix['volume_path']
        if not osp.isdir(folder):
            return [], [
                DataProblem(
                    folder,
                    f'{type(self).__name__}: volume folder {folder!r} does '
                    'not exist; expected <data_root>/data/<case>.h5 (set '
                    'data_prefix=dict(volume_path=...) for another layout)',
                    FileNotFoundError)
            ]
        paths = {
            entry.name[:-3]: entry.path
            for entry in os.scandir(folder)
            if entry.name.endswith('.h5') and entry.is_file()
        }
        found, problems = match_ids(self.split_path, ids, list(paths),
                                    folder)
        return [(case, paths[case]) for split_id in ids
                for case in found[split_id]], problems

    def _base_info(self, path: str, case: str, slice_idx: int,
                   labeled: bool) -> dict:
        return dict(
            img_path=path,
            seg_map_path=path if labeled else None,
            case_id=case,
            slice_idx=slice_idx,
            num_classes=self.num_classes,
            label_map=self.label_map,
            reduce_zero_label=self.reduce_zero_label,
            seg_fields=[])

    def _check_slice(
            self,
            case: str,
            path: str,
            index: int,
            full_check: bool,
            check_images: bool = True
    ) -> Tuple[List[dict], List[DataProblem]]:
        labeled = self.mode == 'labeled'
        header, problems = inspect_h5_header(
            path, ndim=2, require_label=labeled)
        if header is None:
            return [], problems
        if full_check and (labeled or check_images):
            problems = h5_value_problems(path, self.num_classes, labeled,
                                         check_images)
        return [self._base_info(path, case, index, labeled)], problems

    def _check_volume(
            self,
            case: str,
            path: str,
            full_check: bool,
            check_images: bool = True
    ) -> Tuple[List[dict], List[DataProblem]]:
        header, problems = inspect_h5_header(path, ndim=3, require_label=True)
        if header is None:
            return [], problems
        if full_check:
            problems = h5_value_problems(path, self.num_classes, True,
                                         check_images)
        depth = header.shape[0]
        infos = []
        for z in range(depth):
            info = self._base_info(path, case, z, True)
            info['num_slices'] = depth
            if header.spacing is not None:
                info['spacing'] = header.spacing
            infos.append(info)
        return infos, problems


@contextmanager
def seeded_global_rngs(key: Sequence[int]) -> Iterator[None]:
    """Seed numpy's, Python's and torch's (CPU) global generators from
    ``key``; restore their states on exit.

    Transforms draw from these global generators (mmcv's and ours use
    ``np.random``). Restoring them keeps the caller's streams untouched, e.g.
    the main process's when a loader has no workers.

    Args:
        key (Sequence[int]): Non-negative integers, e.g. (seed, position).
    """
    words = np.random.SeedSequence([int(k) for k in key]).generate_state(4)
    np_state = np.random.get_state()
    py_state = random.getstate()
    torch_state = torch.get_rng_state()
    try:
        np.random.seed(words[:2])
        random.seed(int(words[2]))
        # default_generator only: torch.manual_seed would also reseed CUDA.
        torch.default_generator.manual_seed(int(words[3]))
        yield
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
        torch.set_rng_state(torch_state)
