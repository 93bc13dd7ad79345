"""Left-ventricular ejection fraction from the ED and ES frames of a patient.

EF = (EDV - ESV) / EDV x 100, with EDV and ESV the LV volumes at
end-diastole and end-systole. Which frame is which is decided by the first
rule that applies:

1. ``Info.cfg`` (the ACDC release's ``ED: n`` / ``ES: m`` lines) in the
   folder of the patient's files, matched to the ``frameNN`` part of the
   case ids;
2. the ``phase`` attribute (``'ED'``/``'ES'``) of h5 files written by the
   ACDC converter;
3. the file names (``<patient>_ED`` / ``<patient>_ES``);
4. otherwise, the frame with the larger LV volume is ED and the smaller is
   ES (with more than two frames: the largest and the smallest).

Case ids are grouped into patients by a trailing ``_frameNN``, ``_ED`` or
``_ES``.
"""
import os.path as osp
import re
from collections import OrderedDict
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from ..datasets.io.acdc_layout import parse_acdc_info

_CASE = re.compile(
    r'^(?P<patient>.+?)[_-](?P<frame>frame(?P<number>\d+)|ED|ES)$', re.I)

RULE_INFO_CFG = 'Info.cfg'
RULE_PHASE_ATTR = 'h5 phase attribute'
RULE_FILE_NAME = 'file name (ED/ES)'
RULE_LARGER_LV = 'larger LV volume is ED'


@dataclass
class CaseLV:
    """What the EF needs to know about one frame.

    Attributes:
        case_id (str): e.g. ``patient001_frame01``.
        lv_ml (float, optional): LV volume in ml (None if the spacing is
            unknown).
        path (str, optional): Source file (its folder is searched for
            ``Info.cfg``).
        phase (str, optional): ``'ED'``/``'ES'`` if the file says so.
    """
    case_id: str
    lv_ml: Optional[float]
    path: Optional[str] = None
    phase: Optional[str] = None


@dataclass
class EjectionFraction:
    """EF of one patient.

    Attributes:
        patient (str): Patient id (case id without the frame part).
        ed_case (str): Case id of the ED frame.
        es_case (str): Case id of the ES frame.
        edv_ml (float): LV volume at ED.
        esv_ml (float): LV volume at ES.
        ef_percent (float, optional): (EDV - ESV) / EDV x 100; None if EDV
            is 0.
        rule (str): How ED and ES were told apart (one of the ``RULE_*``
            strings).
    """
    patient: str
    ed_case: str
    es_case: str
    edv_ml: float
    esv_ml: float
    ef_percent: Optional[float]
    rule: str


def split_case_id(case_id: str) -> Tuple[str, Optional[str]]:
    """``patient001_frame12`` -> (``patient001``, ``frame12``).

    An id without a frame part gives ``(case_id, None)``.
    """
    match = _CASE.match(case_id)
    if match is None:
        return case_id, None
    return match.group('patient'), match.group('frame')


def ejection_fraction(edv_ml: float, esv_ml: float) -> Optional[float]:
    """(EDV - ESV) / EDV x 100, or None if EDV is not positive."""
    if edv_ml <= 0:
        return None
    return (edv_ml - esv_ml) / edv_ml * 100.0


def _by_info_cfg(frames: List[CaseLV]) -> Optional[Tuple[CaseLV, CaseLV, str]]:
    folders = {osp.dirname(osp.abspath(c.path)) for c in frames if c.path}
    for folder in sorted(folders):
        info_path = osp.join(folder, 'Info.cfg')
        if not osp.isfile(info_path):
            continue
        info = parse_acdc_info(info_path)
        if 'ED' not in info or 'ES' not in info:
            continue
        by_number = {}
        for c in frames:
            match = _CASE.match(c.case_id)
            if match and match.group('number') is not None:
                by_number[int(match.group('number'))] = c
        if info['ED'] in by_number and info['ES'] in by_number:
            return by_number[info['ED']], by_number[info['ES']], \
                f'{RULE_INFO_CFG} ({info_path})'
    return None


def _by_label(frames: List[CaseLV], labels: Dict[str, str],
              rule: str) -> Optional[Tuple[CaseLV, CaseLV, str]]:
    ed = [c for c in frames if labels.get(c.case_id) == 'ED']
    es = [c for c in frames if labels.get(c.case_id) == 'ES']
    if len(ed) == 1 and len(es) == 1:
        return ed[0], es[0], rule
    return None


def _by_volume(frames: List[CaseLV]) -> Optional[Tuple[CaseLV, CaseLV, str]]:
    # max/min keep the first of equal volumes: ties follow the input order
    ed = max(frames, key=lambda c: c.lv_ml)
    es = min(frames, key=lambda c: c.lv_ml)
    if ed is es:
        return None
    return ed, es, RULE_LARGER_LV


def ejection_fractions(
        cases: Sequence[CaseLV]) -> Tuple[List[EjectionFraction], List[str]]:
    """EF for every patient with at least two frames among ``cases``.

    Args:
        cases (Sequence[CaseLV]): One entry per segmented frame.

    Returns:
        tuple[list[EjectionFraction], list[str]]: The EFs (patients in input
        order), and notes on patients for whom no EF could be computed and
        why.
    """
    patients: 'OrderedDict[str, List[CaseLV]]' = OrderedDict()
    for c in cases:
        patient, frame = split_case_id(c.case_id)
        if frame is not None:
            patients.setdefault(patient, []).append(c)
    results, notes = [], []
    for patient, frames in patients.items():
        if len(frames) < 2:
            continue
        if any(c.lv_ml is None for c in frames):
            unknown = ', '.join(c.case_id for c in frames if c.lv_ml is None)
            notes.append(f'{patient}: no EF, the voxel spacing of {unknown} '
                         'is unknown (pass --spacing)')
            continue
        name_phase = {
            c.case_id: split_case_id(c.case_id)[1].upper()
            for c in frames
        }
        attr_phase = {c.case_id: c.phase.upper() for c in frames if c.phase}
        chosen = (
            _by_info_cfg(frames)
            or _by_label(frames, attr_phase, RULE_PHASE_ATTR)
            or _by_label(frames, name_phase, RULE_FILE_NAME)
            or _by_volume(frames))
        if chosen is None:
            notes.append(
                f'{patient}: no EF, all frames have the same LV volume')
            continue
        ed, es, rule = chosen
        results.append(
            EjectionFraction(
                patient=patient,
                ed_case=ed.case_id,
                es_case=es.case_id,
                edv_ml=float(ed.lv_ml),
                esv_ml=float(es.lv_ml),
                ef_percent=ejection_fraction(ed.lv_ml, es.lv_ml),
                rule=rule))
    return results, notes
