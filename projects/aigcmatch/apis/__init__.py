"""Using a trained model: segment new scans, class volumes, ejection fraction.

``from projects.aigcmatch.apis import Segmenter`` (see :mod:`.segmenter`);
``tools/infer.py`` is the command-line front end.
"""
from .class_volumes import class_volumes, voxel_volume_ml
from .ejection_fraction import (CaseLV, EjectionFraction, ejection_fraction,
                                ejection_fractions, split_case_id)
from .model_loading import (StateDictFit, check_state_dict, compare_state_dict,
                            load_segmentor, resolve_device, state_dict_of)
from .scan_io import (INPUT_SUFFIXES, Scan, find_inputs, read_scan,
                      scan_from_array)
from .scan_writer import output_paths, write_prediction
from .segmenter import Segmenter, SegmentationResult, inference_pipeline

__all__ = [
    'Segmenter', 'SegmentationResult', 'inference_pipeline', 'load_segmentor',
    'check_state_dict', 'compare_state_dict', 'state_dict_of', 'StateDictFit',
    'resolve_device', 'Scan', 'read_scan',
    'scan_from_array', 'find_inputs', 'write_prediction', 'output_paths',
    'INPUT_SUFFIXES', 'class_volumes', 'voxel_volume_ml', 'CaseLV',
    'EjectionFraction', 'ejection_fraction', 'ejection_fractions',
    'split_case_id'
]
