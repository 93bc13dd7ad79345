"""Checks of a split file's ids against other splits and against the files
on disk, as ``H5SliceDataset`` runs them when it is built.

Each check returns the problems it finds (:class:`~.h5_checks.DataProblem`)
instead of raising, so that a dataset can report every problem of a split at
once.
"""
from typing import Dict, List, Sequence, Tuple

from .h5_checks import DataProblem
from .split_files import id_matches_case, patients_of_split, read_split


def disjoint_problems(split_path: str, ids: List[str],
                      disjoint_with: Sequence[str],
                      patient_pattern: str) -> List[DataProblem]:
    """A problem for each split of ``disjoint_with`` (paths) that cannot be
    read or shares a patient with ``ids``, the ids of ``split_path``."""
    mine = set(patients_of_split(ids, patient_pattern))
    problems = []
    for other_path in disjoint_with:
        try:
            other_ids = read_split(other_path)
        except (ValueError, OSError) as err:
            problems.append(DataProblem(other_path, str(err), type(err)))
            continue
        other = set(patients_of_split(other_ids, patient_pattern))
        shared = sorted(mine & other)
        if shared:
            problems.append(
                DataProblem(
                    split_path,
                    f'split {split_path} and split {other_path} '
                    f'share patient(s) {", ".join(shared[:10])}; '
                    'expected no patient on both sides (e.g. labeled vs '
                    'unlabeled; a config that changes one split must '
                    'update disjoint_with too)', ValueError))
    return problems


def match_ids(split_path: str, ids: List[str], cases: Sequence[str],
              where: str) -> Tuple[Dict[str, List[str]], List[DataProblem]]:
    """Cases named by each split id; every id must name at least one, and
    no case may be named by two ids.

    Args:
        split_path (str): The split file (named in the problems).
        ids (list[str]): Its ids, in order.
        cases (Sequence[str]): The case ids found in ``where``.
        where (str): The folder searched (named in the problems; a folder
            with ``slice`` in its name is expected to hold slice files).

    Returns:
        tuple: ``{split id: [cases]}`` (sorted, each case under its first
        id only) and the problems.
    """
    found: Dict[str, List[str]] = {}
    owner: Dict[str, str] = {}
    missing = []
    problems = []
    for split_id in ids:
        matched = sorted(c for c in cases if id_matches_case(split_id, c))
        if not matched:
            missing.append(split_id)
        kept = []
        for case in matched:
            if case in owner:
                problems.append(
                    DataProblem(
                        split_path,
                        f'split file {split_path}: ids '
                        f'{owner[case]!r} and {split_id!r} both name '
                        f'case {case!r}; expected each case named once',
                        ValueError))
                continue
            owner[case] = split_id
            kept.append(case)
        found[split_id] = kept
    if missing:
        shown = ', '.join(missing[:10])
        more = f' and {len(missing) - 10} more' if len(missing) > 10 else ''
        problems.append(
            DataProblem(
                split_path,
                f'split file {split_path} names {shown}{more}, but '
                f'{where} holds no file of it; expected {where}/'
                f'{missing[0]}*' +
                ('_slice_<k>.h5' if 'slice' in where else '.h5'),
                FileNotFoundError))
    return found, problems
