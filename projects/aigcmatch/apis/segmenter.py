"""Segment new scans with a trained model (the API behind tools/infer.py).

Example:
    >>> from projects.aigcmatch.apis import Segmenter
    >>> seg = Segmenter('configs/aigcmatch_acdc_7case.py',
    ...                 'work_dirs/aigcmatch_acdc_7case/best_mDice.pth')
    >>> result = seg.segment('patient101_frame01.nii.gz')
    >>> result.labels.shape, result.volumes_ml['LV']
    >>> result.save('out/', overlay=True)
"""
import dataclasses
import os
import os.path as osp
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmcv.transforms import Compose
from mmengine.config import Config

from ..datasets.io.intensity import IntensityNorm, normalise_intensity
from ..visualization.overlay import default_palette, save_volume_overlays
from .class_volumes import class_volumes
from .model_loading import ConfigLike, as_config, load_segmentor
from .scan_io import Scan, read_scan, scan_from_array
from .scan_writer import write_prediction

InputLike = Union[str, np.ndarray, Scan]

#: Used when a config has no test pipeline: UniMatch's evaluation resize.
DEFAULT_INPUT_SIZE = (256, 256)


@dataclass
class SegmentationResult:
    """The prediction for one scan.

    Attributes:
        case_id (str): Name of the case.
        labels (np.ndarray): uint8 class indices, the shape of the input
            image.
        probs (np.ndarray, optional): float32 (C, *labels.shape) softmax
            probabilities.
        class_names (tuple[str]): Name of each class index.
        palette (list): RGB colour of each class.
        spacing (tuple, optional): Voxel size in mm (image axis order) used
            for the volumes.
        voxel_counts (dict): Foreground class name -> voxels.
        volumes_ml (dict): Foreground class name -> ml (None without a
            3-value spacing).
        scan (Scan): The input, for writing the result in its format.
        intensity_norm (IntensityNorm): How the scan was normalised (the
            overlays show the image as the model saw it).
    """
    case_id: str
    labels: np.ndarray
    probs: Optional[np.ndarray]
    class_names: Tuple[str, ...]
    palette: List[Tuple[int, int, int]]
    spacing: Optional[Tuple[float, ...]]
    voxel_counts: Dict[str, int]
    volumes_ml: Dict[str, Optional[float]]
    scan: Scan = field(repr=False)
    intensity_norm: IntensityNorm = field(
        default_factory=IntensityNorm, repr=False)

    def save(self,
             out_dir: str,
             overlay: bool = False,
             save_probs: bool = True,
             alpha: float = 0.4) -> Dict[str, object]:
        """Write the label map (and probabilities, overlays) to ``out_dir``.

        Files are named after the case, in the input's format (see
        :mod:`projects.aigcmatch.apis.scan_io`); overlays go to
        ``out_dir/overlays/<case_id>/``. Existing files of the same name are
        replaced: callers decide whether that is allowed (``tools/infer.py``
        refuses a non-empty folder unless ``--overwrite``).

        Args:
            out_dir (str): Output folder (created if missing).
            overlay (bool): Also write ``[image | overlay]`` PNGs per slice.
            save_probs (bool): Write the probabilities if the result has
                them. Defaults to True.
            alpha (float): Opacity of the overlay tint.

        Returns:
            dict: ``labels``, optionally ``probs`` and ``overlays`` (a list of
            paths).
        """
        probs = self.probs if save_probs else None
        paths: Dict[str, object] = dict(
            write_prediction(self.scan, self.labels, out_dir, probs))
        if overlay:
            image, _ = normalise_intensity(
                self.scan.image, self.intensity_norm, warn=False)
            paths['overlays'] = save_volume_overlays(
                image, self.labels, self.palette,
                osp.join(out_dir, 'overlays', self.case_id), self.case_id,
                alpha)
        return paths


def _test_pipeline_cfg(cfg: Config) -> Optional[list]:
    """The pipeline ``tools/test.py`` evaluates with: the test loader's
    dataset's (through wrappers such as ``RepeatDataset``), else the val
    loader's, else a top-level ``test_pipeline``.

    The loaders come first because they are what the runner builds: a config
    (or a ``--cfg-options`` override) that changes the loader's pipeline and
    leaves the top-level ``test_pipeline`` variable as it was must predict the
    same here as in ``tools/test.py``.
    """
    from ..utils.config import dataset_configs
    for key in ('test_dataloader', 'val_dataloader'):
        loader = cfg.get(key)
        if not isinstance(loader, dict) or not isinstance(
                loader.get('dataset'), dict):
            continue
        for _, dataset in dataset_configs(loader['dataset'], key):
            if dataset.get('pipeline') is not None:
                return list(dataset['pipeline'])
    pipeline = cfg.get('test_pipeline')
    return None if pipeline is None else list(pipeline)


def inference_pipeline(cfg: Config) -> Tuple[Compose, Tuple[int, int]]:
    """The config's test pipeline without its file loaders, fed with arrays.

    The pipeline is the test loader's, the one ``tools/test.py`` evaluates
    with (see :func:`_test_pipeline_cfg`). The evaluation pipeline (e.g.
    ``LoadH5Image`` -> ``Resize`` 256x256 bilinear -> ``LoadH5Annotations``
    -> ``PackSegInputs``) minus every ``Load*`` step is exactly what the
    model saw at validation. Without a test pipeline in the config, a
    256x256 bilinear ``Resize`` and ``PackSegInputs`` are used.

    Args:
        cfg (Config): The model's config.

    Returns:
        tuple: The composed transforms, and the model input size (h, w) if a
        Resize gives one, else ``DEFAULT_INPUT_SIZE``.
    """
    from mmseg.registry import TRANSFORMS

    steps = _test_pipeline_cfg(cfg)
    if steps is None:
        steps = [
            dict(
                type='Resize',
                scale=DEFAULT_INPUT_SIZE[::-1],
                keep_ratio=False,
                interpolation='bilinear'),
            dict(type='PackSegInputs')
        ]
    steps = [
        dict(s) for s in steps if not str(s.get('type', '')).startswith('Load')
    ]
    if not steps or steps[-1].get('type') != 'PackSegInputs':
        raise ValueError(
            f'{cfg.filename or "config"}: its test pipeline must end with '
            f"PackSegInputs, got {[s.get('type') for s in steps]}")
    size = DEFAULT_INPUT_SIZE
    for step in steps:
        if step.get('type') == 'Resize' and step.get('scale') is not None and \
                not step.get('keep_ratio', False):
            w, h = step['scale']  # mmcv's Resize takes (w, h)
            size = (int(h), int(w))
    return Compose([TRANSFORMS.build(s) for s in steps]), size


def _class_names_and_palette(model: torch.nn.Module, cfg: Config,
                             num_classes: int) -> Tuple[Tuple[str, ...], list]:
    from mmseg.registry import DATASETS

    candidates = [getattr(model, 'dataset_meta', None)]
    loader = cfg.get('test_dataloader') or cfg.get('val_dataloader') or {}
    ds_type = loader.get('dataset', {}).get('type') if isinstance(
        loader, dict) else None
    ds_cls = DATASETS.get(ds_type) if isinstance(ds_type, str) else None
    candidates.append(getattr(ds_cls, 'METAINFO', None))
    for meta in candidates:
        if meta and meta.get('classes') is not None and len(
                meta['classes']) == num_classes:
            palette = meta.get('palette')
            if palette is None or len(palette) != num_classes:
                palette = default_palette(num_classes)
            return (tuple(str(c) for c in meta['classes']),
                    [tuple(int(v) for v in c) for c in palette])
    names = ('background', ) + tuple(f'class{i}'
                                     for i in range(1, num_classes))
    return names, default_palette(num_classes)


class Segmenter:
    """Predict label maps of whole scans, slice by slice, as in evaluation.

    Each scan is normalised per volume as the training data was: the
    config's ``intensity_norm`` (default ``'robust_minmax'``: min-max, the
    layout's convention, with extreme voxels replaced first; see
    :mod:`projects.aigcmatch.datasets.io.intensity`), every slice goes through
    the config's test pipeline without its loaders
    (resize to the model input, 256x256 bilinear for the shipped configs),
    and the logits are resized back to the slice's size bilinearly (mmseg's
    ``EncoderDecoder``) before the argmax.

    Args:
        config (str | Config): The config the checkpoint was trained with.
        checkpoint (str): The checkpoint (loaded with ``weights_only=True``).
        device (str, optional): Torch device; None picks CUDA when usable,
            else CPU.
        batch_size (int): Slices per forward pass. Defaults to 16.
        intensity_norm (IntensityNorm | dict | str, optional): Overrides the
            config's ``intensity_norm``.

    Raises:
        FileNotFoundError: Missing config or checkpoint.
        ValueError: A checkpoint that does not fit the config (e.g. another
            number of classes), or a bad ``intensity_norm``.
    """

    def __init__(self,
                 config: ConfigLike,
                 checkpoint: str,
                 device: Optional[str] = None,
                 batch_size: int = 16,
                 intensity_norm=None) -> None:
        model = load_segmentor(config, checkpoint, device)
        self._setup(model, model.cfg, batch_size, intensity_norm)

    @classmethod
    def from_model(cls,
                   model: torch.nn.Module,
                   cfg: Optional[ConfigLike] = None,
                   batch_size: int = 16,
                   intensity_norm=None) -> 'Segmenter':
        """Wrap a model built elsewhere, e.g. by ``mmseg.apis.init_model``.

        Args:
            model (torch.nn.Module): An mmseg segmentor (in eval mode).
            cfg (str | Config, optional): Its config; defaults to
                ``model.cfg``.
            batch_size (int): Slices per forward pass.
            intensity_norm (IntensityNorm | dict | str, optional): Overrides
                the config's ``intensity_norm``.

        Returns:
            Segmenter: Predicting with ``model``.
        """
        self = cls.__new__(cls)
        config = as_config(cfg) if cfg is not None else getattr(
            model, 'cfg', None)
        if config is None:
            raise ValueError(
                'Segmenter.from_model: the model has no `cfg`; pass cfg=')
        model.eval()
        self._setup(model, config, batch_size, intensity_norm)
        return self

    def _setup(self, model: torch.nn.Module, cfg: Config, batch_size: int,
               intensity_norm=None) -> None:
        if batch_size < 1:
            raise ValueError(f'batch_size must be >= 1, got {batch_size}')
        # what the training data got (the config says), unless overridden
        self.intensity_norm = IntensityNorm.from_config(
            cfg.get('intensity_norm')
            if intensity_norm is None else intensity_norm)
        self.model = model
        self.cfg = cfg
        self.batch_size = int(batch_size)
        self.pipeline, self.input_size = inference_pipeline(cfg)
        self.num_classes = int(model.decode_head.num_classes)
        self.class_names, self.palette = _class_names_and_palette(
            model, cfg, self.num_classes)

    @property
    def device(self) -> torch.device:
        """Where the model runs."""
        return next(self.model.parameters()).device

    def _pack(self, image: np.ndarray) -> dict:
        shape = tuple(image.shape)
        return self.pipeline(
            dict(
                img=np.ascontiguousarray(image, np.float32),
                img_shape=shape,
                ori_shape=shape))

    @torch.no_grad()
    def predict_volume(
        self,
        volume: np.ndarray,
        return_probs: bool = False,
        progress: Optional[Callable[[int], None]] = None
    ) -> Tuple[np.ndarray, Optional[np.ndarray]]:
        """Labels (and probabilities) of a normalised (D, H, W) volume.

        Args:
            volume (np.ndarray): (D, H, W) float image, already in the model's
                input range.
            return_probs (bool): Also return softmax probabilities.
            progress (callable, optional): Called with the number of slices
                finished after each batch.

        Returns:
            tuple: uint8 (D, H, W) labels, and float32 (C, D, H, W)
            probabilities or None.
        """
        labels = np.zeros(volume.shape, np.uint8)
        probs = np.zeros((self.num_classes, ) + volume.shape, np.float32) \
            if return_probs else None
        for start in range(0, volume.shape[0], self.batch_size):
            packed = [
                self._pack(s) for s in volume[start:start + self.batch_size]
            ]
            batch = dict(
                inputs=[p['inputs'] for p in packed],
                data_samples=[p['data_samples'] for p in packed])
            outputs = self.model.test_step(batch)
            for k, out in enumerate(outputs):
                labels[start + k] = out.pred_sem_seg.data[0].cpu().numpy()
                if probs is not None:
                    logits = out.seg_logits.data
                    p = logits.softmax(
                        dim=0) if logits.shape[0] > 1 else logits
                    probs[:, start + k] = p.cpu().numpy()
            if progress is not None:
                progress(len(packed))
        return labels, probs

    def segment(
        self,
        image: InputLike,
        spacing: Optional[Sequence[float]] = None,
        return_probs: bool = False,
        case_id: Optional[str] = None,
        progress: Optional[Callable[[int],
                                    None]] = None) -> SegmentationResult:
        """Segment a scan given as a file, an array or a :class:`Scan`.

        Args:
            image (str | np.ndarray | Scan): A ``.nii``, ``.nii.gz``,
                ``.h5``, ``.png`` or ``.npy`` file, or an (H, W) slice or
                (D, H, W) volume of raw intensities.
            spacing (Sequence[float], optional): Voxel size in mm in the
                array's axis order, (sz, sy, sx); overrides the file's. A 2D
                slice needs 3 values (thickness first) for volumes in ml.
            return_probs (bool): Keep per-class probabilities in the result.
            case_id (str, optional): Name for an array input. Defaults to
                ``'array'``.
            progress (callable, optional): See :meth:`predict_volume`.

        Returns:
            SegmentationResult: Labels of the input's shape, probabilities if
            asked, voxel counts and volumes per foreground class.
        """
        if isinstance(image, Scan):
            scan = image
        elif isinstance(image, (str, os.PathLike)):
            scan = read_scan(os.fspath(image))
        else:
            scan = scan_from_array(image, case_id=case_id or 'array')
        if spacing is not None:
            spacing = tuple(float(s) for s in spacing)
            if len(spacing) not in (scan.image.ndim, 3):
                raise ValueError(
                    f'{scan.path or scan.case_id}: spacing {spacing} needs '
                    f'{scan.image.ndim} values (one per axis of '
                    f'{scan.image.shape})')
            scan = dataclasses.replace(scan, spacing=spacing)
        normalised, _ = normalise_intensity(scan.image, self.intensity_norm,
                                            scan.path or scan.case_id)
        volume = normalised[None] if normalised.ndim == 2 else normalised
        labels, probs = self.predict_volume(volume, return_probs, progress)
        if scan.image.ndim == 2:
            labels = labels[0]
            probs = None if probs is None else probs[:, 0]
        voxels, ml = class_volumes(labels, self.class_names, scan.spacing)
        return SegmentationResult(
            case_id=scan.case_id,
            labels=labels,
            probs=probs,
            class_names=self.class_names,
            palette=self.palette,
            spacing=scan.spacing,
            voxel_counts=voxels,
            volumes_ml=ml,
            scan=scan,
            intensity_norm=self.intensity_norm)
