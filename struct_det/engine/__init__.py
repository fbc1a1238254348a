"""Engine extensions: the threshold calibration hook and its test-time
counterpart, the random-state hook for exact resumes, FSDP optimizer
wrappers."""
from .calibration import (apply_calibrated_threshold, load_calibration,
                          read_calibration_file, read_checkpoint_meta)
from .fsdp_wrap_policy import module_name_wrap_policy
from .hooks import RandomStateHook, StructureCalibrationHook
from .optimizers import FSDPAmpOptimWrapper, FSDPOptimWrapper

__all__ = [
    'apply_calibrated_threshold', 'load_calibration', 'read_calibration_file',
    'read_checkpoint_meta', 'RandomStateHook', 'StructureCalibrationHook',
    'FSDPAmpOptimWrapper', 'FSDPOptimWrapper', 'module_name_wrap_policy'
]
