"""Evaluation: the challenge score (functional), StructureMetric, submission
files.
"""
from ..datasets.gt_masks import gt_from_coco
from ..utils.test_log import runtime_from_test_log
from .functional import *  # noqa: F401,F403
from .functional import __all__ as _functional_all
from .metrics import StructureMetric, StructureSubmissionWriter
from .submission_checks import (GTMaskValues, MaskValueChecks, NonBinaryMasks,
                                validate_and_score, validate_gt,
                                validate_submission)
from .submission_io import (RestrictedUnpickler, format_readme,
                            format_score_lines, image_key, read_submission,
                            restricted_load, restricted_loads, save_json,
                            save_pickle, split_keys, write_submission)
from .submission_preds import prediction_mask, predictions_from_results

__all__ = list(_functional_all) + [
    'StructureMetric', 'StructureSubmissionWriter', 'GTMaskValues',
    'MaskValueChecks', 'NonBinaryMasks', 'RestrictedUnpickler',
    'format_readme', 'format_score_lines', 'gt_from_coco', 'image_key',
    'prediction_mask', 'predictions_from_results', 'read_submission',
    'restricted_load', 'restricted_loads', 'runtime_from_test_log',
    'save_json', 'save_pickle', 'split_keys', 'validate_and_score',
    'validate_gt', 'validate_submission', 'write_submission'
]
