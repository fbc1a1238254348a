from .random_state_hook import RandomStateHook
from .structure_calibration_hook import StructureCalibrationHook

__all__ = ['RandomStateHook', 'StructureCalibrationHook']
