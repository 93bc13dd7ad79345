"""Reading and writing a dataset's files: NIfTI <-> the SSL4MIS/UniMatch h5
layout (used by tools/dataset_converters and ``datasets.converters``).

Layout written under ``ROOT``::

    ROOT/data/<case_id>.h5                   image float32 (D, H, W) in [0, 1],
                                             label uint8 (D, H, W)
    ROOT/data/slices/<case_id>_slice_<k>.h5  image float32 (H, W),
                                             label uint8 (H, W)

Axis convention. nibabel returns NIfTI arrays indexed (i, j, k) = (X, Y, Z).
The h5 arrays are that array transposed by ``(2, 1, 0)``:
(D, H, W) = (Z, Y, X), the order SimpleITK's ``GetArrayFromImage`` gives and
hence the order of the public SSL4MIS ACDC files. The volume's attributes
record how to go back:

* ``spacing``: (sz, sy, sx) in mm, in the h5 axis order (NIfTI zooms reversed);
* ``affine``, ``qform_code``, ``sform_code``: the source NIfTI's geometry;
* ``nifti_axes``: ``'zyx'`` (h5 axes d, h, w are NIfTI axes k, j, i);
* ``intensity_range``, ``source_dtype``: what the image was normalised from;
* ``intensity_norm``: how (see :mod:`.intensity`; default ``'robust_minmax'``,
  which is min-max unless the scan holds extreme voxels, which it replaces);

so :func:`~.h5.h5_to_nifti` restores labels, orientation, affine and spacing
exactly, and the image up to float rounding (exactly for integer-typed sources
without clipping; clipped or replaced voxels come back as they were stored).

Modules: :mod:`.nifti` (NIfTI in and out, the axis order), :mod:`.h5` (the
layout's files), :mod:`.intensity` (normalisation to [0, 1]),
:mod:`.pairs` (image/label pairs of a folder or CSV, case ids),
:mod:`.acdc_layout` (the raw ACDC challenge tree), :mod:`.staging` (output
written in a scratch folder, then moved into place) and :mod:`.errors`.
Split drawing lives in ``datasets/split_files.py``; whole-dataset conversion
(the tools' entry points) in ``datasets/converters.py``.
"""
from .acdc_layout import find_acdc_cases, parse_acdc_info
from .errors import ConversionError
from .h5 import h5_to_nifti, read_h5_volume, write_case
from .intensity import (IntensityNorm, IntensityOutlierWarning,
                        NormalisationInfo, minmax_normalise,
                        normalise_intensity)
from .nifti import (NIFTI_AXES, NIFTI_TO_DHW, case_id_from_path, dhw_to_nifti,
                    load_case, load_nifti, read_label)
from .pairs import Pair, check_case_ids, find_nifti_pairs, read_pairs_csv
from .staging import commit_output, prepare_output

__all__ = [
    'ConversionError', 'NIFTI_AXES', 'NIFTI_TO_DHW', 'case_id_from_path',
    'load_nifti', 'read_label', 'load_case', 'dhw_to_nifti', 'write_case',
    'read_h5_volume', 'h5_to_nifti', 'IntensityNorm',
    'IntensityOutlierWarning', 'NormalisationInfo', 'normalise_intensity',
    'minmax_normalise', 'Pair', 'find_nifti_pairs', 'read_pairs_csv',
    'check_case_ids', 'parse_acdc_info', 'find_acdc_cases', 'prepare_output',
    'commit_output'
]
