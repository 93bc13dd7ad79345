"""ACDC (cardiac cine-MRI) as distributed for SSL4MIS/UniMatch."""
import os.path as osp

from mmseg.registry import DATASETS

from .h5_slice_dataset import H5SliceDataset
from .split_files import SPLITS_ROOT


@DATASETS.register_module()
class ACDCDataset(H5SliceDataset):
    """ACDC slices and volumes: background, RV, Myo, LV.

    The shipped splits (``split=`` one of these names) follow UniMatch:
    ``train`` (70 patients), ``val`` (10), ``test`` (20), ``valtest``
    (val + test), ``labeled_{1,3,7}case`` (patients 099 | 099, 038, 050 |
    099, 038, 050, 100, 058, 021, 049: 32 / 68 / 136 slices of the standard
    data) and ``unlabeled_{1,3,7}case`` (the other training patients). All
    lists name patients, both frames each. See :class:`H5SliceDataset` for
    the modes, the layout and the arguments.

    Example:
        >>> dataset = ACDCDataset(data_root='data/ACDC', split='val',
        ...                       mode='volume', pipeline=test_pipeline)
    """

    METAINFO = dict(
        classes=('background', 'RV', 'Myo', 'LV'),
        palette=[[0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255]])

    SPLITS_DIR = osp.join(SPLITS_ROOT, 'acdc')
