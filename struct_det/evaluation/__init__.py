"""Evaluation: the challenge score (functional), StructureMetric, submission files."""
from .functional import *  # noqa: F401,F403
from .functional import __all__ as _functional_all
from .metrics import StructureMetric, StructureSubmissionWriter
from .submission import (RestrictedUnpickler, format_readme, format_score_lines, gt_from_coco,
                         image_key, prediction_mask, predictions_from_results, read_submission,
                         restricted_load, restricted_loads, runtime_from_test_log, save_json,
                         save_pickle, split_keys, validate_gt, validate_submission,
                         write_submission)

__all__ = list(_functional_all) + [
    'StructureMetric', 'StructureSubmissionWriter', 'RestrictedUnpickler', 'format_readme',
    'format_score_lines', 'gt_from_coco', 'image_key', 'prediction_mask',
    'predictions_from_results', 'read_submission', 'restricted_load', 'restricted_loads',
    'runtime_from_test_log', 'save_json', 'save_pickle', 'split_keys', 'validate_gt',
    'validate_submission', 'write_submission'
]
