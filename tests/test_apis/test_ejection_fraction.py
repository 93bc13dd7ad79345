"""Class volumes in ml and the LV ejection fraction, on planted label maps."""
import numpy as np
import pytest

from projects.aigcmatch.apis import (CaseLV, class_volumes, ejection_fraction,
                                     ejection_fractions, split_case_id,
                                     voxel_volume_ml)
from projects.aigcmatch.apis.ejection_fraction import (RULE_FILE_NAME,
                                                       RULE_INFO_CFG,
                                                       RULE_LARGER_LV,
                                                       RULE_PHASE_ATTR)

NAMES = ('background', 'RV', 'Myo', 'LV')
SPACING = (10.0, 1.5, 1.25)  # (sz, sy, sx) mm -> 18.75 mm^3 = 0.01875 ml


def planted(lv_voxels, shape=(4, 20, 20)):
    labels = np.zeros(shape, np.uint8)
    labels.reshape(-1)[:lv_voxels] = 3
    labels.reshape(-1)[-7:] = 1  # a little RV, never LV
    return labels


def test_class_volumes_in_ml():
    labels = planted(400)
    voxels, ml = class_volumes(labels, NAMES, SPACING)
    assert voxels == {'RV': 7, 'Myo': 0, 'LV': 400}
    assert ml['LV'] == pytest.approx(400 * 10.0 * 1.5 * 1.25 / 1000)
    assert ml['RV'] == pytest.approx(7 * 0.01875)
    _, no_spacing = class_volumes(labels, NAMES, None)
    assert no_spacing == {'RV': None, 'Myo': None, 'LV': None}
    # a 2D slice is a slab only with its thickness
    assert voxel_volume_ml((5, 5), (2.0, 1.0, 1.0)) == pytest.approx(0.002)
    assert voxel_volume_ml((5, 5), (1.0, 1.0)) is None
    with pytest.raises(ValueError, match='positive finite'):
        voxel_volume_ml((2, 2, 2), (0.0, 1.0, 1.0))


def test_ef_of_a_planted_pair_equals_hand_computed():
    ed_labels, es_labels = planted(1000), planted(380)
    _, ed_ml = class_volumes(ed_labels, NAMES, SPACING)
    _, es_ml = class_volumes(es_labels, NAMES, SPACING)
    edv, esv = 1000 * 0.01875, 380 * 0.01875  # 18.75 ml, 7.125 ml
    efs, notes = ejection_fractions([
        CaseLV('patient007_frame09', es_ml['LV']),
        CaseLV('patient007_frame01', ed_ml['LV']),
    ])
    assert notes == []
    (ef, ) = efs
    assert (ef.patient, ef.ed_case,
            ef.es_case) == ('patient007', 'patient007_frame01',
                            'patient007_frame09')
    assert ef.edv_ml == pytest.approx(edv)
    assert ef.esv_ml == pytest.approx(esv)
    assert ef.ef_percent == pytest.approx((edv - esv) / edv * 100)  # 62 %
    assert ef.ef_percent == pytest.approx(62.0)
    assert ef.rule == RULE_LARGER_LV


def test_info_cfg_decides_over_volumes(tmp_path):
    # Info.cfg says frame 12 is ED even though its LV is smaller: the file
    # wins (a mis-segmented scan must not swap the phases silently).
    (tmp_path / 'Info.cfg').write_text('ED: 12\nES: 1\nGroup: NOR\n')
    cases = [
        CaseLV('patient002_frame01', 50.0,
               str(tmp_path / 'patient002_frame01.nii.gz')),
        CaseLV('patient002_frame12', 40.0,
               str(tmp_path / 'patient002_frame12.nii.gz'))
    ]
    (ef, ), _ = ejection_fractions(cases)
    assert ef.ed_case == 'patient002_frame12'
    assert ef.ef_percent == pytest.approx((40.0 - 50.0) / 40.0 * 100)
    assert ef.rule.startswith(RULE_INFO_CFG)


def test_phase_attribute_and_file_names():
    (ef, ), _ = ejection_fractions([
        CaseLV('p3_frame01', 30.0, phase='ES'),
        CaseLV('p3_frame07', 60.0, phase='ED')
    ])
    assert (ef.ed_case, ef.rule) == ('p3_frame07', RULE_PHASE_ATTR)
    (ef, ), _ = ejection_fractions(
        [CaseLV('p4_ES', 90.0), CaseLV('p4_ED', 100.0)])
    assert (ef.ed_case, ef.es_case, ef.rule) == ('p4_ED', 'p4_ES',
                                                 RULE_FILE_NAME)
    assert ef.ef_percent == pytest.approx(10.0)


def test_no_ef_without_pairs_or_spacing():
    efs, notes = ejection_fractions([
        CaseLV('p5_frame01', 10.0),  # one frame only
        CaseLV('scan', 10.0),  # no frame part
        CaseLV('p6_frame01', None),
        CaseLV('p6_frame02', 5.0),
    ])
    assert efs == []
    assert notes == [
        'p6: no EF, the voxel spacing of p6_frame01 is unknown '
        '(pass --spacing)'
    ]
    assert ejection_fraction(0.0, 0.0) is None
    assert split_case_id('patient001_frame01') == ('patient001', 'frame01')
    assert split_case_id('scan') == ('scan', None)
