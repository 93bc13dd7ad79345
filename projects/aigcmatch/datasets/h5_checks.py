"""Checks of the h5 files of the SSL4MIS/UniMatch layout, with clear errors.

Two levels: :func:`inspect_h5_header` opens a file and reads only its header
(keys, shapes, dtypes, the ``spacing`` attribute) — cheap enough to run on
every file when a dataset is built; :func:`h5_value_problems` looks at the
values (NaN/inf, label range) of a whole file (``full_check=True`` and
``tools/check_dataset.py``), and :func:`check_image_array` /
:func:`check_label_array` check the arrays a loader reads.

The ``*_problems`` functions collect every :class:`DataProblem` they find
instead of stopping at the first, so a check of a whole dataset can report
all of them at once; the ``read_*`` / ``check_*`` functions raise the first
(or :func:`raise_problems` raises them all as one error). Every message names
the file and the field and says what was expected.
"""
import math
from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple, Type

import h5py
import numpy as np


class H5DataError(ValueError):
    """An h5 file of the dataset does not hold what the layout promises."""


@dataclass(frozen=True)
class DataProblem:
    """One thing wrong with the data, as a user should read it.

    Args:
        path (str): The file (h5 or split file) the problem is in.
        message (str): The whole sentence: the file, what is wrong and what
            was expected.
        error (type): Exception class used when the problem is raised.
            Defaults to :class:`H5DataError`.
    """
    path: str
    message: str
    error: Type[Exception] = H5DataError

    def __str__(self) -> str:
        return self.message


def _problem(path: str, what: str, expected: str) -> DataProblem:
    return DataProblem(path, f'{path}: {what}; expected {expected}')


def raise_problems(problems: Sequence[DataProblem],
                   max_shown: int = 20) -> None:
    """Raise every problem as one error (no-op if there is none).

    The error has the class of the first problem; its message is that
    problem's message when there is one, else a count followed by one line
    per problem (the first ``max_shown``).

    Args:
        problems (Sequence[DataProblem]): What was found.
        max_shown (int): Most problems listed in the message. Defaults to 20.

    Raises:
        Exception: The first problem's ``error`` class.
    """
    if not problems:
        return
    first = problems[0]
    if len(problems) == 1:
        raise first.error(first.message)
    lines = [f'  {p.message}' for p in problems[:max_shown]]
    if len(problems) > max_shown:
        lines.append(f'  ... and {len(problems) - max_shown} more (run '
                     'tools/check_dataset.py CONFIG for the full list)')
    raise first.error(f'{len(problems)} problems in the data:\n' +
                      '\n'.join(lines))


@dataclass(frozen=True)
class H5Header:
    """What the header of one h5 file says.

    Args:
        shape (tuple[int, ...]): Shape of ``image``.
        has_label (bool): Whether the file holds ``label``.
        spacing (tuple[float, float, float], optional): The ``spacing``
            attribute (sz, sy, sx) in mm, when the file has one.
    """
    shape: Tuple[int, ...]
    has_label: bool
    spacing: Optional[Tuple[float, float, float]] = None


def open_h5(path: str) -> h5py.File:
    """Open an h5 file for reading, with an error that names it.

    Args:
        path (str): File path.

    Returns:
        h5py.File: The open file (use it as a context manager).
    """
    try:
        return h5py.File(path, 'r')
    except FileNotFoundError:
        raise FileNotFoundError(f'{path}: file not found') from None
    except OSError as err:
        raise H5DataError(f'{path}: cannot be read as an HDF5 file ({err}); '
                          'expected an h5 file with datasets "image" and '
                          '"label"') from None


def _spacing_problems(
        path: str,
        f: h5py.File) -> Tuple[Optional[Tuple[float, ...]], List[DataProblem]]:
    if 'spacing' not in f.attrs:
        return None, []
    raw = np.asarray(f.attrs['spacing']).ravel()
    values = tuple(float(v) for v in raw) if raw.dtype.kind in 'iuf' else ()
    if len(values) != 3 or not all(math.isfinite(v) and v > 0 for v in values):
        return None, [
            _problem(
                path, f'attribute "spacing" is '
                f'{np.asarray(f.attrs["spacing"])!r}', '3 positive voxel '
                "sizes in mm (sz, sy, sx) in the array's axis order")
        ]
    return values, []


def _header_problems(
        path: str, f: h5py.File, ndim: int,
        require_label: bool) -> Tuple[Optional[H5Header], List[DataProblem]]:
    kind = 'slice (H, W)' if ndim == 2 else 'volume (D, H, W)'
    problems: List[DataProblem] = []
    image = f.get('image')
    image_ok = False
    if image is None:
        problems.append(
            _problem(path, f'no dataset "image" (found: {sorted(f.keys())})',
                     f'"image" holding a float {kind}'))
    elif not isinstance(image, h5py.Dataset) or image.ndim != ndim:
        shape = getattr(image, 'shape', 'a group')
        problems.append(
            _problem(path, f'"image" has shape {shape}', f'a {kind} array'))
    elif image.dtype.kind not in 'fiu':
        problems.append(
            _problem(path, f'"image" has dtype {image.dtype}',
                     'a float (or integer) array'))
    else:
        image_ok = True
    has_label = 'label' in f
    if require_label and not has_label:
        problems.append(
            _problem(
                path, f'no dataset "label" (found: {sorted(f.keys())})',
                'an integer "label" of the image\'s shape (labels are '
                "needed in mode 'labeled' and 'volume')"))
    if has_label:
        label = f['label']
        if not isinstance(label, h5py.Dataset):
            problems.append(
                _problem(path, '"label" is a group', 'an integer array'))
        else:
            if image_ok and label.shape != image.shape:
                problems.append(
                    _problem(
                        path, f'"label" has shape {label.shape} but "image" '
                        f'has {image.shape}', 'the same shape'))
            if label.dtype.kind not in 'iub':
                problems.append(
                    _problem(path, f'"label" has dtype {label.dtype}',
                             'an integer class-index array (e.g. uint8)'))
    spacing, spacing_problems = _spacing_problems(path, f)
    problems.extend(spacing_problems)
    if problems:
        return None, problems
    return H5Header(tuple(image.shape), has_label, spacing), []


def inspect_h5_header(
        path: str, ndim: int,
        require_label: bool) -> Tuple[Optional[H5Header], List[DataProblem]]:
    """Check the header of one file without reading its arrays; collect
    every problem.

    Args:
        path (str): File path.
        ndim (int): Expected number of image axes: 2 for a slice file
            (H, W), 3 for a volume file (D, H, W).
        require_label (bool): Whether ``label`` must be present.

    Returns:
        tuple[H5Header | None, list[DataProblem]]: The header (None if there
        is any problem) and the problems: a missing or unreadable file, a
        missing key, a wrong number of axes, a label whose shape differs from
        the image's, a non-integer label dtype, a bad ``spacing``.
    """
    try:
        f = open_h5(path)
    except (FileNotFoundError, H5DataError) as err:
        return None, [DataProblem(path, str(err), type(err))]
    with f:
        return _header_problems(path, f, ndim, require_label)


def read_h5_header(path: str, ndim: int, require_label: bool) -> H5Header:
    """Check the header of one file without reading its arrays.

    Args:
        path (str): File path.
        ndim (int): Expected number of image axes: 2 for a slice file
            (H, W), 3 for a volume file (D, H, W).
        require_label (bool): Whether ``label`` must be present.

    Returns:
        H5Header: Shape, label presence and spacing.

    Raises:
        H5DataError: On a missing key, a wrong number of axes, a label whose
            shape differs from the image's or a non-integer label dtype (the
            first problem found).
        FileNotFoundError: If the file does not exist.
    """
    header, problems = inspect_h5_header(path, ndim, require_label)
    if problems:
        raise problems[0].error(problems[0].message)
    return header


def image_array_problems(path: str, image: np.ndarray) -> List[DataProblem]:
    """Problems of an image array: NaN or inf values.

    Args:
        path (str): File the array came from (for the message).
        image (np.ndarray): The array.

    Returns:
        list[DataProblem]: Empty if the array is fine.
    """
    if image.dtype.kind == 'f':
        finite = np.isfinite(image)
        if not finite.all():
            bad = int(finite.size - np.count_nonzero(finite))
            return [
                _problem(path, f'"image" holds {bad} NaN/inf value(s)',
                         'finite intensities')
            ]
    return []


def label_array_problems(path: str, label: np.ndarray,
                         num_classes: int) -> List[DataProblem]:
    """Problems of a label array: values outside ``[0, num_classes)``.

    Args:
        path (str): File the array came from (for the message).
        label (np.ndarray): The array.
        num_classes (int): Number of classes of the dataset.

    Returns:
        list[DataProblem]: Empty if the array is fine.
    """
    if label.size == 0:
        return []
    low, high = int(label.min()), int(label.max())
    if low >= 0 and high < num_classes:
        return []
    bad = np.unique(label[(label < 0) | (label >= num_classes)])
    return [
        _problem(
            path, f'"label" holds value(s) {bad.tolist()[:10]}',
            f'class indices 0..{num_classes - 1} ({num_classes} classes)')
    ]


def check_image_array(path: str, image: np.ndarray) -> None:
    """Raise if an image array holds NaN or inf.

    Args:
        path (str): File the array came from (for the message).
        image (np.ndarray): The array.
    """
    raise_problems(image_array_problems(path, image))


def check_label_array(path: str, label: np.ndarray, num_classes: int) -> None:
    """Raise if a label array holds a value outside ``[0, num_classes)``.

    Args:
        path (str): File the array came from (for the message).
        label (np.ndarray): The array.
        num_classes (int): Number of classes of the dataset.
    """
    raise_problems(label_array_problems(path, label, num_classes))


def h5_value_problems(path: str,
                      num_classes: int,
                      check_label: bool,
                      check_image: bool = True) -> List[DataProblem]:
    """Read a whole file and collect the problems of its values.

    Args:
        path (str): File path (its header must already have passed).
        num_classes (int): Number of classes of the dataset.
        check_label (bool): Whether to read and check ``label``.
        check_image (bool): Whether to read and check ``image``. Defaults
            to True.

    Returns:
        list[DataProblem]: NaN/inf in ``image``, labels out of range.
    """
    with open_h5(path) as f:
        problems = image_array_problems(
            path, f['image'][()]) if check_image else []
        if check_label:
            problems += label_array_problems(path, f['label'][()],
                                             num_classes)
    return problems


def check_h5_values(path: str, num_classes: int, check_label: bool) -> None:
    """Read a whole file and check its values (the ``full_check`` level).

    Args:
        path (str): File path (its header must already have passed).
        num_classes (int): Number of classes of the dataset.
        check_label (bool): Whether to read and check ``label`` too.

    Raises:
        H5DataError: Listing every problem of the file.
    """
    raise_problems(h5_value_problems(path, num_classes, check_label))
