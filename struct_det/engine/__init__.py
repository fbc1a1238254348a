"""Engine extensions: the threshold calibration hook and its test-time counterpart."""
from .calibration import (apply_calibrated_threshold, load_calibration, read_calibration_file,
                          read_checkpoint_meta)
from .hooks import StructureCalibrationHook

__all__ = [
    'apply_calibrated_threshold', 'load_calibration', 'read_calibration_file',
    'read_checkpoint_meta', 'StructureCalibrationHook'
]
