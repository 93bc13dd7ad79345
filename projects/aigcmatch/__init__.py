"""aigcmatch: attention-guided weak-to-strong consistency for semi-supervised
medical image segmentation, as an OpenMMLab (mmengine/mmseg) plugin.

Importing the package registers every component into mmseg's registries
(default scope ``mmseg``); configs load it with
``custom_imports = dict(imports=['projects.aigcmatch'], allow_failed_imports=False)``.
"""
from . import compat  # noqa: F401,I001  (must come before mmseg.models)
from . import datasets, engine, evaluation, models  # noqa: F401
from . import apis, visualization  # noqa: F401,I001
from .version import __version__

__all__ = ['__version__']
