"""Models: backbones, the attention UNet head, attention sources,
perturbations, losses, the semi-supervised segmentor and its multi-branch
data preprocessor."""
from .attention import *  # noqa: F401,F403
from .backbones import *  # noqa: F401,F403
from .data_preprocessors import *  # noqa: F401,F403
from .decode_heads import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
from .perturbations import *  # noqa: F401,F403
from .segmentors import *  # noqa: F401,F403
