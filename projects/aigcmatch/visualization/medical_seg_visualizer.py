"""A segmentation visualizer whose storage backends follow what is
installed."""
import importlib.util
from typing import List, Optional, Union

import numpy as np
from mmseg.registry import VISUALIZERS
from mmseg.visualization import SegLocalVisualizer


def auto_vis_backends() -> List[dict]:
    """Local files always; TensorBoard too when ``tensorboard`` is installed.

    mmengine's ``TensorboardVisBackend`` imports ``torch.utils.tensorboard``
    only when first used, so listing it without the package would fail in
    the middle of a run, not at start-up.

    Returns:
        list[dict]: Backend configs for ``vis_backends``.
    """
    backends = [dict(type='LocalVisBackend')]
    if importlib.util.find_spec('tensorboard') is not None:
        backends.append(dict(type='TensorboardVisBackend'))
    return backends


@VISUALIZERS.register_module()
class MedicalSegVisualizer(SegLocalVisualizer):
    """``SegLocalVisualizer`` whose ``vis_backends`` default to ``'auto'``.

    ``'auto'`` means :func:`auto_vis_backends`: local PNG/JSON files, and
    TensorBoard event files when TensorBoard is installed. Everything that
    writes through the runner's visualizer uses them: the overlays of
    :class:`MedicalSegVisualizationHook` and ``LoggerHook``'s scalars.

    Args:
        name (str): Instance name. Defaults to 'visualizer'.
        image (np.ndarray, optional): Image to draw on first.
        vis_backends (str | list[dict], optional): ``'auto'`` (default) or
            explicit backend configs, as for mmengine's ``Visualizer``.
        **kwargs: The other arguments of ``SegLocalVisualizer``
            (``save_dir``, ``classes``, ``palette``, ``alpha``, ...).
    """

    def __init__(self,
                 name: str = 'visualizer',
                 image: Optional[np.ndarray] = None,
                 vis_backends: Optional[Union[str, List[dict]]] = 'auto',
                 **kwargs) -> None:
        if vis_backends == 'auto':
            vis_backends = auto_vis_backends()
        super().__init__(name, image, vis_backends, **kwargs)
