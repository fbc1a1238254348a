"""Models: distortion detectors, heatmap segmentors, the score regressor, TTA
wrappers and the joint assessor."""
from . import regressors  # noqa: F401
from . import assessors, detectors, losses, segmentors, tta

__all__ = [
    'assessors', 'detectors', 'losses', 'regressors', 'segmentors', 'tta'
]
