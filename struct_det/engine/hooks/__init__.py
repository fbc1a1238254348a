from .structure_calibration_hook import StructureCalibrationHook

__all__ = ['StructureCalibrationHook']
from .random_state_hook import RandomStateHook  # noqa: E402  (lead)
