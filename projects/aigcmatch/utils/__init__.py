"""Helpers shared by the command-line tools."""
from .cli import UserError, run_tool
from .config import (add_config_args, apply_cfg_options, check_num_classes,
                     check_training_config, ensure_atomic_checkpoints,
                     ensure_checkpoint_check, load_config, model_num_classes,
                     parse_tool_args, prepare_config, propagate_data_root,
                     refuse_to_clobber_work_dir)
from .device_config import sanitize_cfg_for_device

__all__ = [
    'UserError', 'run_tool', 'load_config', 'apply_cfg_options',
    'propagate_data_root', 'refuse_to_clobber_work_dir', 'add_config_args',
    'parse_tool_args', 'prepare_config', 'check_num_classes',
    'model_num_classes', 'ensure_checkpoint_check', 'check_training_config',
    'ensure_atomic_checkpoints', 'sanitize_cfg_for_device'
]
