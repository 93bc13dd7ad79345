"""Data preprocessor for batches keyed by branch ('labeled', 'unlabeled', ...)."""
from typing import Any, Dict

from mmseg.models.data_preprocessor import SegDataPreProcessor
from mmseg.registry import MODELS


@MODELS.register_module()
class MultiBranchSegDataPreProcessor(SegDataPreProcessor):
    """mmseg's ``SegDataPreProcessor`` applied to each branch of a batch.

    The semi-supervised loop feeds ``{'labeled': batch, 'unlabeled': batch}``
    (and optionally ``'mix'``). A branch whose ``inputs`` is a list of tensors
    is processed as usual; a branch whose ``inputs`` is a dict of views
    (``{'weak': [...], 'strong1': [...]}``, from the multi-view packer) has each
    view stacked and normalised the same way, so every view stays
    pixel-aligned. A plain (non-branch) batch, as in validation, test and
    supervised training, is processed exactly like ``SegDataPreProcessor``.

    Returns:
        dict: ``inputs`` and ``data_samples``, each keyed by branch for branch
        batches (views as a dict of tensors), or plain for plain batches.
    """

    def forward(self, data: dict, training: bool = False) -> Dict[str, Any]:
        if 'inputs' in data:
            return super().forward(data, training)
        inputs, data_samples = {}, {}
        for branch, branch_data in data.items():
            processed = self._forward_branch(branch_data, training)
            inputs[branch] = processed['inputs']
            data_samples[branch] = processed['data_samples']
        return dict(inputs=inputs, data_samples=data_samples)

    def _forward_branch(self, data: dict, training: bool) -> Dict[str, Any]:
        views = data['inputs']
        if not isinstance(views, dict):
            return super().forward(data, training)
        stacked = {}
        samples = data.get('data_samples')
        for name, view in views.items():
            out = super().forward(
                dict(inputs=view, data_samples=samples), training)
            stacked[name] = out['inputs']
            samples = out['data_samples']
        return dict(inputs=stacked, data_samples=samples)
