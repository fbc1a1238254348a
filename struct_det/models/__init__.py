"""Models: distortion detectors, the score regressor, TTA wrappers and the joint assessor."""
from . import assessors, detectors, losses, regressors, tta  # noqa: F401

__all__ = ['assessors', 'detectors', 'losses', 'regressors', 'tta']
