"""Models: distortion detectors, heatmap segmentors, the score regressor, TTA wrappers and
the joint assessor."""
from . import assessors, detectors, losses, regressors, segmentors, tta  # noqa: F401

__all__ = ['assessors', 'detectors', 'losses', 'regressors', 'segmentors', 'tta']
