"""Loading one slice's image or label from an h5 slice or volume file."""
from typing import Optional

import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS

from ..h5_checks import (H5DataError, check_image_array, check_label_array,
                         open_h5)


def read_h5_slice(path: str, key: str, slice_idx: Optional[int]) -> np.ndarray:
    """Read a 2D array from a slice file (H, W) or one slice of a volume.

    Args:
        path (str): h5 file.
        key (str): Dataset name in the file (``'image'`` or ``'label'``).
        slice_idx (int, optional): Index along axis 0 when the dataset is a
            volume (D, H, W); ignored for a 2D dataset.

    Returns:
        np.ndarray: The (H, W) array.
    """
    with open_h5(path) as f:
        if key not in f:
            raise H5DataError(f'{path}: no dataset "{key}" (found: '
                              f'{sorted(f.keys())}); expected "{key}"')
        data = f[key]
        if data.ndim == 2:
            return data[()]
        if data.ndim == 3:
            if slice_idx is None or not 0 <= slice_idx < data.shape[0]:
                raise H5DataError(
                    f'{path}: "{key}" is a volume of {data.shape[0]} slices '
                    f'and slice_idx is {slice_idx!r}; expected an index in '
                    f'0..{data.shape[0] - 1}')
            return data[slice_idx]
        raise H5DataError(f'{path}: "{key}" has shape {data.shape}; expected '
                          'a slice (H, W) or a volume (D, H, W)')


@TRANSFORMS.register_module()
class LoadH5Image(BaseTransform):
    """Load the image of one slice from an h5 slice or volume file.

    Required Keys:

    - img_path
    - slice_idx (only read when the file holds a volume)

    Added Keys:

    - img (np.float32, (H, W))
    - img_shape
    - ori_shape

    Raises an error naming the file if the slice holds NaN or inf.

    Args:
        key (str): Name of the image dataset in the file.
            Defaults to ``'image'``.
    """

    def __init__(self, key: str = 'image') -> None:
        self.key = key

    def transform(self, results: dict) -> dict:
        """Load the slice.

        Args:
            results (dict): Data info of one sample.

        Returns:
            dict: ``results`` with the image and its shape.
        """
        path = results['img_path']
        img = read_h5_slice(path, self.key, results.get('slice_idx'))
        check_image_array(path, img)
        img = np.ascontiguousarray(img, dtype=np.float32)
        results['img'] = img
        results['img_shape'] = img.shape[:2]
        results['ori_shape'] = img.shape[:2]
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(key={self.key!r})'


@TRANSFORMS.register_module()
class LoadH5Annotations(BaseTransform):
    """Load the label of one slice from an h5 slice or volume file.

    Place it before any geometric transform that should move the label with
    the image, or after the test-time resize so the label keeps the slice's
    original size for the metric.

    Required Keys:

    - seg_map_path (None in ``'unlabeled'`` mode: an error)
    - slice_idx (only read when the file holds a volume)
    - ori_shape (optional: the label must have the image's original shape)
    - num_classes (optional: label values must lie in ``[0, num_classes)``)
    - label_map (optional: old → new class index, as mmseg's
      ``LoadAnnotations`` applies it)

    Added Keys:

    - gt_seg_map (np.uint8, (H, W))
    - seg_fields (``'gt_seg_map'`` appended)

    Args:
        key (str): Name of the label dataset in the file.
            Defaults to ``'label'``.
    """

    def __init__(self, key: str = 'label') -> None:
        self.key = key

    def transform(self, results: dict) -> dict:
        """Load, check and map the label.

        Args:
            results (dict): Data info of one sample.

        Returns:
            dict: ``results`` with ``gt_seg_map``.
        """
        path = results.get('seg_map_path')
        if path is None:
            raise ValueError(
                f'{results.get("img_path")}: this sample has no label '
                "(dataset mode 'unlabeled' never loads labels); expected a "
                "pipeline without LoadH5Annotations, or mode='labeled'")
        label = read_h5_slice(path, self.key, results.get('slice_idx'))
        shape = results.get('ori_shape')
        if shape is not None and tuple(label.shape) != tuple(shape):
            raise H5DataError(f'{path}: "{self.key}" slice has shape '
                              f'{label.shape} but the image has {shape}; '
                              'expected the same shape')
        if results.get('num_classes') is not None:
            check_label_array(path, label, results['num_classes'])
        # uint8 like mmseg's loader, unless the class indices do not fit it.
        wide = (results.get('num_classes') or 0) > 256
        label = label.astype(np.int64 if wide else np.uint8)
        label_map = results.get('label_map')
        if label_map:
            mapped = label.copy()
            for old_id, new_id in label_map.items():
                mapped[label == old_id] = new_id
            label = mapped
        results['gt_seg_map'] = label
        results.setdefault('seg_fields', [])
        if 'gt_seg_map' not in results['seg_fields']:
            results['seg_fields'].append('gt_seg_map')
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(key={self.key!r})'
