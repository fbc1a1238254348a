"""Submission files: the names of the split modules, in one place.

The code lives in one module per concept:

- :mod:`.submission_io`: restricted unpickling, reading and writing
  submissions, readme and score lines, image keys;
- :mod:`.submission_checks`: validation of submissions and ground truths;
- :mod:`.submission_preds`: saved model outputs to masks and scores;
- :mod:`struct_det.datasets.gt_masks`: gt.pkl from our COCO files;
- :mod:`struct_det.utils.test_log`: runtime per image from a test log.

This module re-exports the first three (numpy-only, like them) for the
code that imports ``struct_det.evaluation.submission``.
"""
from .submission_checks import (GTMaskValues, MaskValueChecks, NonBinaryMasks,
                                validate_and_score, validate_gt,
                                validate_submission)
from .submission_io import (PRED_PKL, README, SCORE_LINES, RefusedGlobal,
                            RestrictedUnpickler, format_readme,
                            format_score_lines, image_key, read_submission,
                            restricted_load, restricted_load_stream,
                            restricted_loads, save_json, save_pickle,
                            split_keys, write_submission)
from .submission_preds import (DEFAULT_SCORE_THR, prediction_mask,
                               predictions_from_results)

__all__ = [
    'PRED_PKL', 'README', 'SCORE_LINES', 'RefusedGlobal',
    'RestrictedUnpickler', 'format_readme', 'format_score_lines', 'image_key',
    'read_submission', 'restricted_load', 'restricted_load_stream',
    'restricted_loads', 'save_json', 'save_pickle', 'split_keys',
    'write_submission', 'GTMaskValues', 'MaskValueChecks', 'NonBinaryMasks',
    'validate_and_score', 'validate_gt', 'validate_submission',
    'DEFAULT_SCORE_THR', 'prediction_mask', 'predictions_from_results'
]
