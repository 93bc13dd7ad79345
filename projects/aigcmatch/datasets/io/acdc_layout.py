"""The raw ACDC challenge tree: patient folders, ``Info.cfg``, ED/ES frames."""
from __future__ import annotations

import os
import os.path as osp
import re
from typing import List, Sequence, Tuple

from .errors import ConversionError
from .pairs import check_case_ids

_ACDC_PATIENT = re.compile(r'patient\d{3}\Z')
_ACDC_FRAME = re.compile(
    r'(?P<case>patient\d{3}_frame(?P<frame>\d+))\.nii(\.gz)?\Z')


def parse_acdc_info(path: str) -> dict:
    """Parse an ACDC ``Info.cfg`` (``key: value`` lines).

    Args:
        path (str): The ``Info.cfg`` file (ED, ES, Group, Height, NbFrame,
            Weight).

    Returns:
        dict: Keys as in the file; ED, ES, NbFrame as int, Height and Weight as
            float.
    """
    info = {}
    with open(path) as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            if ':' not in line:
                raise ConversionError(
                    f"{path}, line {n}: expected 'key: value', "
                    f'got {line.strip()!r}')
            key, value = (s.strip() for s in line.split(':', 1))
            try:
                info[key] = (
                    int(float(value)) if key in ('ED', 'ES', 'NbFrame') else
                    float(value) if key in ('Height', 'Weight') else value)
            except ValueError as e:
                raise ConversionError(
                    f'{path}, line {n}: {key} must be a number, got {value!r}'
                ) from e
    return info


def find_acdc_cases(
    raw_root: str, subsets: Sequence[str] = ('training', 'testing')
) -> List[Tuple[str, str, str, dict]]:
    """List the ED/ES frames of a raw ACDC challenge tree.

    Accepts ``raw_root/{training,testing}/patientXXX/``,
    ``raw_root/database/...`` or ``raw_root/patientXXX/``. Each patient folder
    holds ``patientXXX_frameYY.nii.gz`` with ``patientXXX_frameYY_gt.nii.gz``
    and ``Info.cfg``; the 4D cine ``patientXXX_4d.nii.gz`` is skipped. Frames
    named by ``Info.cfg`` (ED, ES) must exist.

    Args:
        raw_root (str): Root of the extracted challenge data.
        subsets (Sequence[str]): Sub-folders to take when they exist.

    Returns:
        list: ``(case_id, image, label, attrs)`` sorted by case id;
        ``attrs`` holds ``phase`` ('ED', 'ES' or '') and ``group`` from
        ``Info.cfg`` when known.
    """
    if not osp.isdir(raw_root):
        raise ConversionError(f'{raw_root}: folder not found')
    roots = [
        osp.join(base, s)
        for base in (raw_root, osp.join(raw_root, 'database'))
        for s in subsets if osp.isdir(osp.join(base, s))
    ] or [raw_root]
    patient_dirs = sorted(
        osp.join(r, d) for r in roots for d in os.listdir(r)
        if _ACDC_PATIENT.match(d) and osp.isdir(osp.join(r, d)))
    if not patient_dirs:
        raise ConversionError(
            f'{raw_root}: found no patientXXX folders (expected '
            f'{raw_root}/training/patient001/... or {raw_root}/patient001/...)'
        )
    cases = []
    for pdir in patient_dirs:
        info_path = osp.join(pdir, 'Info.cfg')
        info = parse_acdc_info(info_path) if osp.isfile(info_path) else {}
        frames = {}
        for name in sorted(os.listdir(pdir)):
            # '_gt' and '_4d' names do not match: labels are paired below,
            # the 4D cine is skipped
            m = _ACDC_FRAME.match(name)
            if m:
                frames[int(m.group('frame'))] = (m.group('case'), name)
        if not frames:
            raise ConversionError(
                f'{pdir}: no patientXXX_frameYY.nii.gz frame found')
        for phase in ('ED', 'ES'):
            if phase in info and info[phase] not in frames:
                raise ConversionError(
                    f'{info_path}: {phase} is frame {info[phase]}, but '
                    f'{osp.basename(pdir)}_frame{info[phase]:02d}.nii.gz '
                    'is missing')
        for frame, (case_id, name) in sorted(frames.items()):
            image = osp.join(pdir, name)
            label = osp.join(pdir, case_id + '_gt' + name[len(case_id):])
            if not osp.isfile(label):
                raise ConversionError(
                    f'{label}: missing _gt label file for frame {image} '
                    '(to skip a folder without labels, convert only '
                    "subsets=('training',), CLI --subsets training)")
            phase = {info.get('ED'): 'ED', info.get('ES'): 'ES'}.get(frame, '')
            cases.append((case_id, image, label,
                          dict(phase=phase, group=str(info.get('Group', '')))))
    check_case_ids([c[0] for c in cases], raw_root)
    return cases

