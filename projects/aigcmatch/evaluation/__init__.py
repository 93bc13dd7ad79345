"""Per-case 3D medical segmentation metrics (medpy-equal, DDP-gathered)."""
from .medical_metric import MedicalMetric
from .surface_distance import asd, hd95, hd95_asd, surface_distances
from .volume_assembly import CaseVolume, assemble_volumes

__all__ = [
    'MedicalMetric', 'surface_distances', 'hd95_asd', 'hd95', 'asd',
    'CaseVolume', 'assemble_volumes'
]
