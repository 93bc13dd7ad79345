"""Visualisation for 1-channel medical images.

Label overlays, the validation/test overlay hook
(``MedicalSegVisualizationHook`` in mmseg's HOOKS) and a visualizer whose
storage backends default to local files, plus TensorBoard when installed
(``MedicalSegVisualizer`` in mmseg's VISUALIZERS).
"""
from .medical_seg_visualization_hook import MedicalSegVisualizationHook
from .medical_seg_visualizer import MedicalSegVisualizer, auto_vis_backends
from .overlay import (default_palette, overlay_labels, save_volume_overlays,
                      side_by_side, to_gray_rgb)

__all__ = [
    'MedicalSegVisualizationHook', 'MedicalSegVisualizer', 'auto_vis_backends',
    'default_palette', 'overlay_labels', 'save_volume_overlays',
    'side_by_side', 'to_gray_rgb'
]
