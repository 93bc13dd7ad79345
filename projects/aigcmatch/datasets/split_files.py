"""Split files: plain-text lists of patients (or volumes), one id per line.

A split names patients (``patient099``) or volumes (``patient099_frame01``),
never slices, so one list holds for any copy of a dataset: the dataset finds
the files of each id under its ``data_root``. Splits shipped with the package
live in ``datasets/splits/<dataset>/<name>.txt`` and are referred to by name.

Splits are drawn here only: :func:`draw_splits` and :func:`draw_labeled`
(patient level, seeded), and :func:`make_splits` (the converters' train / val /
test / labeled split by case or group), written by :func:`write_split_files`.
"""
import os
import os.path as osp
import re
from typing import Dict, List, Optional, Sequence

import numpy as np

from .io.errors import ConversionError

#: Folder holding one sub-folder of shipped split files per dataset.
SPLITS_ROOT = osp.join(osp.dirname(osp.abspath(__file__)), 'splits')

#: Default rule from a case id to its patient: drop a ``_frameNN`` suffix
#: (ACDC's two cardiac phases are two volumes of one patient).
DEFAULT_PATIENT_PATTERN = r'^(?P<patient>.+?)(?:_frame\d+)?$'


def shipped_split_names(splits_dir: Optional[str]) -> List[str]:
    """Names of the split files in a folder of shipped splits.

    Args:
        splits_dir (str, optional): Folder holding ``<name>.txt`` files.

    Returns:
        list[str]: Sorted split names (file names without ``.txt``).
    """
    if splits_dir is None or not osp.isdir(splits_dir):
        return []
    return sorted(name[:-4] for name in os.listdir(splits_dir)
                  if name.endswith('.txt'))


def _looks_like_name(split: str) -> bool:
    return os.sep not in split and '/' not in split and not split.endswith(
        '.txt')


def resolve_split(split: str,
                  splits_dir: Optional[str] = None,
                  data_root: Optional[str] = None) -> str:
    """Turn a split name or path into the path of an existing split file.

    A bare name (no folder, no ``.txt``) is looked up among the shipped splits
    first; anything else is a path, tried as given and then under
    ``data_root``.

    Args:
        split (str): A shipped split name (``'labeled_3case'``) or a path.
        splits_dir (str, optional): Folder of shipped splits for the dataset.
        data_root (str, optional): Second place to look for a relative path.

    Returns:
        str: Path of the split file.

    Raises:
        FileNotFoundError: If no such split exists; the message lists the
            shipped names.
    """
    if not isinstance(split, str) or not split:
        raise TypeError(f'split must be a split name or a path to a split '
                        f'file, got {split!r}')
    candidates = []
    if _looks_like_name(split) and splits_dir is not None:
        candidates.append(osp.join(splits_dir, split + '.txt'))
    candidates.append(split)
    if data_root is not None and not osp.isabs(split):
        candidates.append(osp.join(data_root, split))
    for path in candidates:
        if osp.isfile(path):
            return path
    shipped = shipped_split_names(splits_dir)
    hint = (f'; shipped splits: {", ".join(shipped)}'
            if shipped else '; this dataset ships no split files')
    raise FileNotFoundError(
        f'split {split!r} not found: expected a shipped split name or the '
        f'path of a split file (one patient or volume id per line){hint}')


def read_split(path: str) -> List[str]:
    """Read the ids of a split file, in file order.

    Blank lines and ``#`` comments are skipped; a ``.h5`` suffix is tolerated
    so a list of volume files also works.

    Args:
        path (str): Path of the split file.

    Returns:
        list[str]: The ids, in the order of the file.

    Raises:
        ValueError: If an id appears twice or the file lists no id.
    """
    ids: List[str] = []
    first_line: Dict[str, int] = {}
    with open(path, encoding='utf-8') as f:
        for line_no, line in enumerate(f, start=1):
            item = line.split('#', 1)[0].strip()
            if not item:
                continue
            if item.endswith('.h5'):
                item = item[:-3]
            if '/' in item or os.sep in item or any(c.isspace() for c in item):
                raise ValueError(
                    f'split file {path}, line {line_no}: {item!r} is not an '
                    'id; expected one patient or volume id per line, e.g. '
                    'patient099 or patient099_frame01')
            if item in first_line:
                raise ValueError(
                    f'split file {path} lists {item!r} twice (lines '
                    f'{first_line[item]} and {line_no}); expected every id '
                    'once')
            first_line[item] = line_no
            ids.append(item)
    if not ids:
        raise ValueError(f'split file {path} lists no id; expected one '
                         'patient or volume id per line')
    return ids


def patient_of(case_id: str, pattern: str = DEFAULT_PATIENT_PATTERN) -> str:
    """The patient a case (volume) or split id belongs to.

    Args:
        case_id (str): A volume id such as ``patient099_frame01`` or a
            patient id such as ``patient099``.
        pattern (str): Regular expression matched at the start of the id; its
            group ``patient`` (or group 1, or the whole match) is the patient.

    Returns:
        str: The patient id.
    """
    match = re.match(pattern, case_id)
    if match is None:
        raise ValueError(f'case id {case_id!r} does not match the patient '
                         f'pattern {pattern!r}')
    if 'patient' in match.re.groupindex:
        return match.group('patient')
    return match.group(1) if match.re.groups else match.group(0)


def id_matches_case(split_id: str, case_id: str) -> bool:
    """Whether a split id names this case: the case itself or its prefix.

    ``patient01`` names ``patient01_frame01`` but not ``patient010_frame01``:
    the prefix must end at an underscore.

    Args:
        split_id (str): An id from a split file.
        case_id (str): A case (volume) id found on disk.

    Returns:
        bool: True if the split id selects the case.
    """
    return case_id == split_id or case_id.startswith(split_id + '_')


def patients_of_split(ids: Sequence[str],
                      pattern: str = DEFAULT_PATIENT_PATTERN) -> List[str]:
    """The distinct patients of a list of split ids, in first-seen order.

    Args:
        ids (Sequence[str]): Patient or volume ids.
        pattern (str): See :func:`patient_of`.

    Returns:
        list[str]: Patient ids without repeats.
    """
    return list(dict.fromkeys(patient_of(i, pattern) for i in ids))


def draw_splits(patients: Sequence[str], n_val: int, n_test: int,
                seed: int) -> Dict[str, List[str]]:
    """Seeded patient-level train / val / test split.

    The one place where splits are drawn: ``tools/make_splits.py`` and the
    converters (:func:`make_splits`) both call it, so a seed means the same
    split everywhere.

    Args:
        patients (Sequence[str]): Distinct patient (or group) ids.
        n_val (int): Validation patients.
        n_test (int): Test patients.
        seed (int): Seed of the draw (the order of ``patients`` does not
            matter: they are sorted first).

    Returns:
        dict[str, list[str]]: ``train``, ``val``, ``test`` and ``valtest``
        (val + test), each sorted.
    """
    patients = sorted(set(patients))
    if n_val < 0 or n_test < 0 or n_val + n_test > len(patients):
        raise ValueError(f'cannot draw {n_val} val + {n_test} test patients '
                         f'from {len(patients)}')
    order = [str(p) for p in np.random.default_rng([seed, 0]).permutation(
        patients)] if patients else []
    val, test = order[:n_val], order[n_val:n_val + n_test]
    return dict(
        train=sorted(order[n_val + n_test:]),
        val=sorted(val),
        test=sorted(test),
        valtest=sorted(val + test))


def draw_labeled(train: Sequence[str], sizes: Sequence[int],
                 seed: int) -> Dict[str, List[str]]:
    """Seeded, nested labeled sets of training patients and their rest.

    One draw order serves every size, so the ``N``-patient set holds every
    smaller one (the 3-case set contains the 1-case patient).

    Args:
        train (Sequence[str]): Distinct training patient ids.
        sizes (Sequence[int]): Labeled set sizes, each in
            ``1..len(train)``.
        seed (int): Seed of the draw.

    Returns:
        dict[str, list[str]]: ``labeled_<N>case`` (in draw order) and
        ``unlabeled_<N>case`` (sorted) for each size ``N``.
    """
    train = sorted(set(train))
    order = [str(p) for p in np.random.default_rng([seed, 1]).permutation(
        train)] if train else []
    splits = {}
    for n in sizes:
        if not 1 <= n <= len(train):
            raise ValueError(f'cannot draw {n} labeled patients from '
                             f'{len(train)} training patients')
        labeled = order[:n]
        splits[f'labeled_{n}case'] = labeled
        splits[f'unlabeled_{n}case'] = sorted(set(train) - set(labeled))
    return splits


def make_splits(case_ids: Sequence[str],
                ratios: Sequence[float] = (0.7, 0.1, 0.2),
                seed: int = 0,
                group_pattern: Optional[str] = None,
                num_labeled: Optional[int] = None) -> Dict[str, List[str]]:
    """Seeded train/val/test split by case (or by group, e.g. patient).

    Args:
        case_ids (Sequence[str]): Volume ids.
        ratios (Sequence[float]): Train, val, test proportions (normalised to
            sum 1).
        seed (int): Shuffle seed.
        group_pattern (str, optional): Regex; cases whose first match is equal
            stay in one split (e.g. ``'^patient\\d+'`` keeps a patient's frames
            together).
        num_labeled (int, optional): Also return ``labeled`` (a seeded draw
            of ``num_labeled`` training groups) and ``unlabeled`` (the other
            training cases).

    The groups are drawn by :func:`draw_splits` and :func:`draw_labeled`,
    as ``tools/make_splits.py`` draws them.

    Returns:
        dict[str, list[str]]: ``train``, ``val``, ``test`` (and ``labeled``,
        ``unlabeled``), each sorted.
    """
    if len(ratios) != 3 or any(r < 0 for r in ratios) or sum(ratios) <= 0:
        raise ConversionError(
            f'split ratios must be three non-negative numbers (train, val, '
            f'test) with a positive sum, got {list(ratios)}')
    groups: Dict[str, List[str]] = {}
    for cid in sorted(case_ids):
        key = cid
        if group_pattern:
            m = re.search(group_pattern, cid)
            key = m.group(0) if m else cid
        groups.setdefault(key, []).append(cid)
    keys = sorted(groups)
    total = float(sum(ratios))
    n_val = int(round(len(keys) * ratios[1] / total))
    n_test = int(round(len(keys) * ratios[2] / total))
    if ratios[0] > 0:  # never leave train empty when it was asked for
        while n_val + n_test >= len(keys) and n_val + n_test > 0:
            if n_val >= n_test:
                n_val -= 1
            else:
                n_test -= 1
    # the same seeded draw as tools/make_splits.py (draw_splits)
    drawn = draw_splits(keys, n_val, n_test, seed)
    parts = {name: drawn[name] for name in ('train', 'val', 'test')}
    if num_labeled is not None:
        n_train = len(parts['train'])
        if not 0 < num_labeled <= n_train:
            raise ConversionError(
                f'num_labeled must be in 1..{n_train} (the number of training '
                f'cases/groups), got {num_labeled}')
        sets = draw_labeled(parts['train'], [num_labeled], seed)
        parts['labeled'] = sets[f'labeled_{num_labeled}case']
        parts['unlabeled'] = sets[f'unlabeled_{num_labeled}case']
    return {
        name: sorted(c for k in ks for c in groups[k])
        for name, ks in parts.items()
    }


def write_split_files(splits: Dict[str, List[str]],
                      out_dir: str) -> Dict[str, str]:
    """Write ``out_dir/<name>.txt``, one id a line.

    Args:
        splits (dict[str, list[str]]): Split name -> ids.
        out_dir (str): Folder to write into (created if missing).

    Returns:
        dict[str, str]: split name -> path.
    """
    os.makedirs(out_dir, exist_ok=True)
    paths = {}
    for name, ids in splits.items():
        paths[name] = osp.join(out_dir, f'{name}.txt')
        with open(paths[name], 'w') as f:
            f.writelines(f'{cid}\n' for cid in ids)
    return paths

