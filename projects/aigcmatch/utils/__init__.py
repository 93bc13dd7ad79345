"""Helpers shared by the command-line tools."""
from .cli import UserError, run_tool
from .config import (apply_cfg_options, load_config, propagate_data_root,
                     refuse_to_clobber_work_dir)

__all__ = [
    'UserError', 'run_tool', 'load_config', 'apply_cfg_options',
    'propagate_data_root', 'refuse_to_clobber_work_dir'
]
