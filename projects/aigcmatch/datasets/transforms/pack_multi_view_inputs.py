"""Packing one unlabeled slice as a weak view and several strong views."""
import copy
from typing import Callable, Dict, List, Sequence, Union

from mmcv.transforms import BaseTransform, Compose
from mmseg.datasets.transforms import PackSegInputs
from mmseg.registry import TRANSFORMS

#: Metainfo kept by default: mmseg's keys plus the slice's place in its volume.
DEFAULT_META_KEYS = ('img_path', 'ori_shape', 'img_shape', 'pad_shape',
                     'scale_factor', 'flip', 'flip_direction', 'case_id',
                     'slice_idx', 'num_slices', 'spacing')


@TRANSFORMS.register_module()
class PackMultiViewInputs(BaseTransform):
    """Pack a weak view and strong views of one slice, pixel-aligned.

    Put this last, after the weak (geometric) transforms: the weak view is
    the image as it arrives; each strong view is an independent run of
    ``strong_pipeline`` (photometric transforms only, so every view keeps the
    weak view's geometry) on a copy of it. The result follows the contract of
    the unlabeled branch: ``inputs`` is a dict of (C, H, W) tensors keyed by
    view name, ``data_samples`` one :class:`SegDataSample` with the metainfo
    (and ``gt_sem_seg`` only if a label was loaded, e.g. to measure
    pseudo-label accuracy; the unlabeled dataset loads none).

    Required Keys:

    - img
    - gt_seg_map (optional)
    - the meta keys present in the results

    Added Keys:

    - inputs (dict[str, Tensor]: ``weak_view`` and every name in
      ``strong_views``)
    - data_samples (SegDataSample)

    Args:
        strong_pipeline (list[dict | callable]): Photometric transforms of a
            strong view. Must not move pixels.
        strong_views (Sequence[str]): Names of the strong views, one
            independent draw of ``strong_pipeline`` each.
            Defaults to ('strong1', 'strong2').
        weak_view (str): Name of the weak view. Defaults to 'weak'.
        meta_keys (Sequence[str]): Keys copied into the data sample's
            metainfo when present. Defaults to :data:`DEFAULT_META_KEYS`.
    """

    def __init__(self,
                 strong_pipeline: Sequence[Union[dict, Callable]] = (),
                 strong_views: Sequence[str] = ('strong1', 'strong2'),
                 weak_view: str = 'weak',
                 meta_keys: Sequence[str] = DEFAULT_META_KEYS) -> None:
        if isinstance(strong_views, str):
            strong_views = [strong_views]
        names: List[str] = [weak_view] + list(strong_views)
        if len(set(names)) != len(names):
            raise ValueError(f'{type(self).__name__}: view names {names}; '
                             'expected distinct names')
        # Built from mmseg's registry so that no default scope is needed.
        self.strong_pipeline = Compose([
            TRANSFORMS.build(t) if isinstance(t, dict) else t
            for t in strong_pipeline
        ])
        self.strong_views = list(strong_views)
        self.weak_view = weak_view
        self.meta_keys = tuple(meta_keys)
        self.packer = PackSegInputs(meta_keys=self.meta_keys)

    def transform(self, results: dict) -> dict:
        """Make the strong views and pack every view.

        Args:
            results (dict): Result dict after the weak transforms.

        Returns:
            dict: ``inputs`` (dict of tensors) and ``data_samples``.
        """
        packed = self.packer(results)
        inputs: Dict = {self.weak_view: packed['inputs']}
        for name in self.strong_views:
            view = self.strong_pipeline(copy.deepcopy(results))
            if view is None:
                raise ValueError(f'{type(self).__name__}: strong_pipeline '
                                 f'returned None for view {name!r}; expected '
                                 'photometric transforms that keep the '
                                 'sample')
            if view['img'].shape != results['img'].shape:
                raise ValueError(
                    f'{type(self).__name__}: strong_pipeline changed the '
                    f'image shape {results["img"].shape} to '
                    f'{view["img"].shape} in view {name!r}; expected '
                    'photometric transforms only (geometry goes before the '
                    'packer, so all views stay pixel-aligned)')
            inputs[name] = self.packer({'img': view['img']})['inputs']
        return dict(inputs=inputs, data_samples=packed['data_samples'])

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(strong_pipeline='
                f'{self.strong_pipeline}, strong_views={self.strong_views}, '
                f'weak_view={self.weak_view!r}, meta_keys={self.meta_keys})')
