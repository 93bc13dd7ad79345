"""Prediction overlays of validation/test slices, written through the
runner's visualizer."""
import os.path as osp
from typing import Optional, Sequence

import cv2
import numpy as np
from mmengine.hooks import Hook
from mmseg.registry import HOOKS
from mmseg.structures import SegDataSample

from .overlay import default_palette, overlay_labels, side_by_side, to_gray_rgb

IMAGE_SOURCES = ('input', 'file')


@HOOKS.register_module()
class MedicalSegVisualizationHook(Hook):
    """Draw ``[image | ground truth | prediction]`` panels of val/test slices.

    mmseg's ``SegVisualizationHook`` reads the image back from ``img_path``
    with an image decoder, which fails for the h5 files of our layout and
    would show a float MRI slice badly. This hook takes the image from the
    batch (the model's input tensor, resized back to the prediction's size)
    or re-reads the slice from its h5 file, windows it to gray, tints and
    outlines each foreground class (the background stays visible), and
    passes the panel to ``runner.visualizer.add_image``: the configured
    backends store it (local PNGs under ``save_dir/vis_data/vis_image``,
    TensorBoard when configured). It has ``SegVisualizationHook``'s
    switches, so ``tools/test.py --show-dir DIR`` (``draw=True``,
    ``visualizer.save_dir=DIR``) works unchanged.

    Args:
        draw (bool): Draw anything at all. Defaults to False.
        interval (int): Draw every ``interval``-th val/test iteration (every
            sample of that batch). Defaults to 50.
        show (bool): Show the panel in a window instead of storing it.
            Defaults to False.
        wait_time (float): Seconds a shown window stays. Defaults to 0.
        alpha (float): Opacity of the class tint. Defaults to 0.4.
        image_source (str): ``'input'`` (the batch's input tensor) or
            ``'file'`` (re-read slice ``slice_idx`` of the h5 file
            ``img_path``; other files fall back to the input).
            Defaults to ``'input'``.
    """

    def __init__(self,
                 draw: bool = False,
                 interval: int = 50,
                 show: bool = False,
                 wait_time: float = 0.,
                 alpha: float = 0.4,
                 image_source: str = 'input') -> None:
        if interval < 1:
            raise ValueError(
                f'MedicalSegVisualizationHook: interval must be >= 1, '
                f'got {interval}')
        if image_source not in IMAGE_SOURCES:
            raise ValueError(
                f'MedicalSegVisualizationHook: image_source must be one of '
                f'{IMAGE_SOURCES}, got {image_source!r}')
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(
                f'MedicalSegVisualizationHook: alpha must be in [0, 1], '
                f'got {alpha}')
        self.draw = draw
        self.interval = int(interval)
        self.show = show
        self.wait_time = wait_time
        self.alpha = alpha
        self.image_source = image_source

    def _after_iter(self,
                    runner,
                    batch_idx: int,
                    data_batch: Optional[dict],
                    outputs: Optional[Sequence[SegDataSample]],
                    mode: str = 'train') -> None:
        if not self.draw or mode == 'train' or not outputs:
            return
        if not self.every_n_inner_iters(batch_idx, self.interval):
            return
        inputs = (data_batch or {}).get('inputs')
        for i, sample in enumerate(outputs):
            if 'pred_sem_seg' not in sample:
                continue
            pred = _as_2d(sample.pred_sem_seg.data)
            image = self._image(sample, inputs, i, pred.shape)
            if image is None:
                continue
            panel = self.draw_panel(
                image, pred,
                _as_2d(sample.gt_sem_seg.data)
                if 'gt_sem_seg' in sample else None,
                _palette(runner.visualizer, pred, sample))
            name = _sample_name(sample, mode, batch_idx, i)
            if self.show:
                runner.visualizer.show(
                    panel, win_name=name, wait_time=self.wait_time)
            else:
                runner.visualizer.add_image(name, panel, step=runner.iter)

    def draw_panel(self, image: np.ndarray, pred: np.ndarray,
                   gt: Optional[np.ndarray], palette) -> np.ndarray:
        """``[image | gt overlay | prediction overlay]``.

        Without a label (or with one of another shape) the gt panel is left
        out.

        Args:
            image (np.ndarray): (H, W) float image at the prediction's size.
            pred (np.ndarray): (H, W) predicted classes.
            gt (np.ndarray, optional): (H, W) label.
            palette: RGB colour per class.

        Returns:
            np.ndarray: (H, k * W + gaps, 3) uint8 RGB.
        """
        gray = to_gray_rgb(image)
        panels = [gray]
        if gt is not None and gt.shape == pred.shape:
            panels.append(overlay_labels(gray, gt, palette, self.alpha))
        panels.append(overlay_labels(gray, pred, palette, self.alpha))
        return side_by_side(panels)

    def _image(self, sample: SegDataSample, inputs, index: int,
               shape) -> Optional[np.ndarray]:
        img_path = sample.metainfo.get('img_path')
        if self.image_source == 'file' and isinstance(img_path, str) and \
                img_path.endswith('.h5'):
            from ..datasets.transforms.load_h5 import read_h5_slice
            image = read_h5_slice(img_path, 'image',
                                  sample.metainfo.get('slice_idx'))
        else:
            if inputs is None or index >= len(inputs):
                return None
            tensor = inputs[index]
            image = tensor.detach().cpu().float().numpy()
            # the model input is (C, h, w); a 1-channel image is shown as
            # it is, a multi-channel one by its mean
            image = image.mean(axis=0) if image.ndim == 3 else image
        image = np.asarray(image, np.float32)
        if image.shape != tuple(shape):
            image = cv2.resize(
                image, (int(shape[1]), int(shape[0])),
                interpolation=cv2.INTER_LINEAR)
        return image


def _as_2d(data) -> np.ndarray:
    array = data.detach().cpu().numpy() if hasattr(
        data, 'detach') else np.asarray(data)
    return array[0] if array.ndim == 3 else array


def _palette(visualizer, pred: np.ndarray, sample: SegDataSample):
    meta = getattr(visualizer, 'dataset_meta', None) or {}
    palette = meta.get('palette')
    needed = int(pred.max()) + 1
    if 'gt_sem_seg' in sample:
        gt = _as_2d(sample.gt_sem_seg.data)
        needed = max(needed,
                     int(gt[gt < 255].max()) + 1 if (gt < 255).any() else 0)
    if palette is None or len(palette) < needed:
        palette = default_palette(max(needed, len(palette or [])))
    return palette


def _sample_name(sample: SegDataSample, mode: str, batch_idx: int,
                 index: int) -> str:
    meta = sample.metainfo
    if 'case_id' in meta and 'slice_idx' in meta:
        return f"{mode}_{meta['case_id']}_slice_{int(meta['slice_idx'])}"
    if meta.get('img_path'):
        return f"{mode}_{osp.splitext(osp.basename(str(meta['img_path'])))[0]}"
    return f'{mode}_{batch_idx}_{index}'
