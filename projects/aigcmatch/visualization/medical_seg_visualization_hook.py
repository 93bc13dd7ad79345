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
from .slice_view import (SliceView, display_size, display_window,
                         radiological_view, slice_dice, titled_panel)

IMAGE_SOURCES = ('input', 'file')
WINDOWS = ('auto', 'minmax')
ORIENTATIONS = ('auto', 'stored')


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

    Each panel is drawn at a readable size (square millimetres from the
    slice's ``spacing``, the shorter side ``min_size`` pixels), titled with
    the case, the slice and its per-class Dice, with a header per column and
    a class legend below; the slice is turned to the radiological convention
    from the volume's affine and CT gets a soft-tissue window
    (:mod:`.slice_view`; both read the h5 volume's attributes, so they apply
    to data written by this project's converters).

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
        min_size (int): Shorter side of each panel in pixels. Defaults to
            320.
        window (str): ``'auto'`` (a soft-tissue window for CT, min-max
            otherwise) or ``'minmax'``. Defaults to 'auto'.
        orientation (str): ``'auto'`` (radiological convention from the
            volume's affine, as stored without one) or ``'stored'``.
            Defaults to 'auto'.
    """

    def __init__(self,
                 draw: bool = False,
                 interval: int = 50,
                 show: bool = False,
                 wait_time: float = 0.,
                 alpha: float = 0.4,
                 image_source: str = 'input',
                 min_size: int = 320,
                 window: str = 'auto',
                 orientation: str = 'auto') -> None:
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
        if window not in WINDOWS:
            raise ValueError(f'MedicalSegVisualizationHook: window must be '
                             f'one of {WINDOWS}, got {window!r}')
        if orientation not in ORIENTATIONS:
            raise ValueError(
                f'MedicalSegVisualizationHook: orientation must be one of '
                f'{ORIENTATIONS}, got {orientation!r}')
        if min_size < 16:
            raise ValueError(f'MedicalSegVisualizationHook: min_size must '
                             f'be >= 16, got {min_size}')
        self.min_size = int(min_size)
        self.window = window
        self.orientation = orientation
        self._attrs_cache: dict = {}
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
            palette = _palette(runner.visualizer, pred, sample)
            panel = self.draw_labelled_panel(
                image, pred,
                _as_2d(sample.gt_sem_seg.data)
                if 'gt_sem_seg' in sample else None, palette,
                _class_names(runner.visualizer, len(palette)),
                sample.metainfo, self._volume_attrs(sample))
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

    def draw_labelled_panel(self, image: np.ndarray, pred: np.ndarray,
                            gt: Optional[np.ndarray], palette,
                            class_names, meta: dict,
                            attrs: dict) -> np.ndarray:
        """The panel as stored: :meth:`draw_panel`'s columns in display
        orientation and size, with title, headers and legend.

        Args:
            image (np.ndarray): (H, W) float image at the prediction's size.
            pred (np.ndarray): (H, W) predicted classes.
            gt (np.ndarray, optional): (H, W) label.
            palette: RGB colour per class.
            class_names (Sequence[str]): Name per class.
            meta (dict): The sample's metainfo (``case_id``, ``slice_idx``,
                ``num_slices``, ``spacing``).
            attrs (dict): The volume's h5 attributes (``affine``,
                ``nifti_axes``, ``intensity_range``, ``modality``).

        Returns:
            np.ndarray: RGB uint8.
        """
        view = SliceView()
        if self.orientation == 'auto':
            view = radiological_view(attrs.get('affine'),
                                     _text(attrs.get('nifti_axes', 'zyx')))
        window = display_window(image, attrs) if self.window == 'auto' else (
            float(image.min()), float(image.max()))
        if gt is not None and gt.shape != pred.shape:
            gt = None
        spacing = meta.get('spacing')
        in_plane = None
        if spacing is not None and len(spacing) >= 2:
            in_plane = (float(spacing[-2]), float(spacing[-1]))
            if view.transpose:
                in_plane = in_plane[::-1]
        image, pred = view.apply(image), view.apply(pred)
        gt = None if gt is None else view.apply(gt)
        dice = ''
        if gt is not None:  # on the label's grid, before any resizing
            scores = slice_dice(pred, gt, len(palette))
            dice = '  Dice ' + ' '.join(
                f'{class_names[c]} {"-" if v is None else f"{v:.1f}"}'
                for c, v in scores.items())
        h, w = display_size(pred.shape, in_plane, self.min_size)
        image = cv2.resize(image.astype(np.float32), (w, h),
                           interpolation=cv2.INTER_LINEAR)
        pred = cv2.resize(pred.astype(np.uint8), (w, h),
                          interpolation=cv2.INTER_NEAREST)
        gray = to_gray_rgb(image, window)
        panels, headers = [gray], ['image' + (f' ({view.codes[0]} down, '
                                              f'{view.codes[1]} right)'
                                              if view.codes else '')]
        if gt is not None:
            gt = cv2.resize(gt.astype(np.uint8), (w, h),
                            interpolation=cv2.INTER_NEAREST)
            panels.append(overlay_labels(gray, gt, palette, self.alpha))
            headers.append('ground truth')
        panels.append(overlay_labels(gray, pred, palette, self.alpha))
        headers.append('prediction')
        case = meta.get('case_id', '')
        where = ''
        if meta.get('slice_idx') is not None:
            where = f'  slice {int(meta["slice_idx"]) + 1}'
            if meta.get('num_slices'):
                where += f'/{int(meta["num_slices"])}'
        return titled_panel(panels, headers, f'{case}{where}{dice}',
                            class_names, palette)

    def _volume_attrs(self, sample: SegDataSample) -> dict:
        """The h5 attributes of the sample's file (cached per file)."""
        path = sample.metainfo.get('img_path')
        if not isinstance(path, str) or not path.endswith('.h5'):
            return {}
        if path not in self._attrs_cache:
            import h5py
            try:
                with h5py.File(path, 'r') as f:
                    self._attrs_cache[path] = {
                        k: f.attrs[k]
                        for k in ('affine', 'nifti_axes', 'intensity_range',
                                  'modality') if k in f.attrs
                    }
            except OSError:
                self._attrs_cache[path] = {}
        return self._attrs_cache[path]

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


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _class_names(visualizer, num_classes: int) -> list:
    meta = getattr(visualizer, 'dataset_meta', None) or {}
    names = list(meta.get('classes') or [])
    names += [f'class{i}' for i in range(len(names), num_classes)]
    return [str(n) for n in names]


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
