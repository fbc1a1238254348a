"""The EvalMuse-Structure challenge score of a whole submission.

``final = 0.7 * F1 + 0.15 * (SRCC + PLCC)`` with the region F1 of
:mod:`.regions` and the correlations of :mod:`.correlation`, computed in the released
scorer's arithmetic so the numbers agree with it to the last digit.
"""
import math
import numbers
import warnings
from typing import Any, Dict, Mapping

import numpy as np

from .correlation import PLCC_FITS, plcc, srcc
from .regions import (DEFAULT_AREA_RATIO, DEFAULT_GT_MIN_AREA, DEFAULT_IOU_THR,
                      image_region_counts, summarize_region_counts)

# The scorer's weights: area_weight and score_weight (split evenly over SRCC and PLCC).
AREA_WEIGHT = 0.7
SCORE_WEIGHT = 0.3
# Dtypes cv2.resize accepts, i.e. that the released scorer can read.
_RESIZABLE = (np.uint8, np.uint16, np.int16, np.float32, np.float64)
# The keys score_submission returns, in the scorer's print order first.
SCORE_KEYS = ('final_score', 'srcc', 'plcc', 'precision', 'recall', 'f1_score', 'giou')


def final_score(f1: float, srcc_value: float, plcc_value: float) -> float:
    """``0.7 * F1 + 0.3 * (PLCC + SRCC) / 2``, in the scorer's order of operations."""
    return f1 * AREA_WEIGHT + (plcc_value + srcc_value) * SCORE_WEIGHT / 2


def check_score(key: str, score: Any, what: str = 'score') -> None:
    """Checks a submission score: a finite real scalar.

    Args:
        key: the record's key, for the message.
        score: the value.
        what: the field's name, for the message.

    Raises:
        ValueError: naming the key and the problem.
    """
    if isinstance(score, (bool, np.bool_)) or not isinstance(score, numbers.Real):
        raise ValueError(f'{key!r}: {what} must be a real number (write float(value)), got '
                         f'{type(score).__name__}')
    if not math.isfinite(float(score)):
        raise ValueError(f'{key!r}: {what} is {score}; every score must be finite')


def check_pred_area(key: str, area: Any) -> None:
    """Checks a predicted mask can be scored as the released scorer would.

    Args:
        key: the record's key, for the message.
        area: the ``pred_area`` value.

    Raises:
        ValueError: naming the key and the fix (bool, not 2-D, empty, a dtype the scorer
            cannot resize, negative or non-finite values).
    """
    if not isinstance(area, np.ndarray):
        raise ValueError(f"{key!r}: pred_area must be a numpy array, got {type(area).__name__}")
    if area.dtype == np.bool_:
        raise ValueError(f"{key!r}: pred_area is a bool array, which crashes the scorer's "
                         'cv2.resize; write mask.astype(np.uint8)')
    if area.ndim != 2:
        raise ValueError(f"{key!r}: pred_area has shape {area.shape}; it must be a 2-D (H, W) "
                         'array (a (1, H, W) array is misread by the scorer)')
    if area.size == 0:
        raise ValueError(f"{key!r}: pred_area is empty (shape {area.shape})")
    if area.dtype.type not in _RESIZABLE:
        raise ValueError(f"{key!r}: pred_area has dtype {area.dtype}, which the scorer's "
                         'cv2.resize rejects; write a uint8 0/1 array')
    if area.dtype.kind == 'f' and not np.all(np.isfinite(area)):
        raise ValueError(f"{key!r}: pred_area holds NaN or inf values")
    if area.dtype.kind in 'if' and area.min() < 0:
        raise ValueError(f"{key!r}: pred_area holds negative values, which the scorer's uint8 "
                         'cast wraps around; write a uint8 0/1 array')


def check_gt_area(key: str, area: Any) -> None:
    """Checks a GT mask: a 2-D array of 0/1 values.

    Args:
        key: the record's key, for the message.
        area: the GT ``pred_area`` value.

    Raises:
        ValueError: naming the key and the problem.
    """
    if not isinstance(area, np.ndarray) or area.ndim != 2 or area.size == 0:
        shape = getattr(area, 'shape', type(area).__name__)
        raise ValueError(f'GT {key!r}: the mask must be a non-empty 2-D numpy array, got {shape}')
    if area.dtype != np.bool_ and area.dtype.kind not in 'uif':
        raise ValueError(f'GT {key!r}: the mask has dtype {area.dtype}; expected uint8 0/1')
    if area.dtype != np.bool_ and not np.all((area == 0) | (area == 1)):
        raise ValueError(f'GT {key!r}: the mask holds values other than 0 and 1 (the scorer '
                         'counts only pixels equal to 1 in its GIoU); binarise it')


def _entry(mapping: Mapping, key: str, side: str) -> Mapping:
    entry = mapping[key]
    if not isinstance(entry, Mapping) or 'score' not in entry or 'pred_area' not in entry:
        raise ValueError(f"{side} {key!r}: each record must be a dict with 'score' and "
                         f"'pred_area', got {type(entry).__name__} "
                         f"{sorted(entry) if isinstance(entry, Mapping) else ''}")
    return entry


def score_submission(preds: Mapping[str, Mapping], gts: Mapping[str, Mapping], *,
                     area_ratio: float = DEFAULT_AREA_RATIO,
                     gt_min_area: float = DEFAULT_GT_MIN_AREA,
                     iou_thr: float = DEFAULT_IOU_THR,
                     plcc_fit: str = 'logistic4',
                     check: bool = True) -> Dict[str, float]:
    """Scores a submission against a ground truth exactly as the released scorer does.

    Both arguments have the submission form ``{key: {"score": float, "pred_area": 2-D
    array}}``; the GT's masks are 0/1 (stored at 512x512 by the organisers) and its
    ``score`` is the MOS. The GT's key order is the evaluation order; extra predicted keys
    are ignored.

    Args:
        preds: the submission.
        gts: the ground truth.
        area_ratio: predicted regions count when their contour area exceeds
            ``512 * 512 * area_ratio``.
        gt_min_area: GT regions count when their contour area exceeds this.
        iou_thr: two regions match when their IoU is strictly greater than this.
        plcc_fit: ``'logistic4'`` (the scorer), ``'poly3'`` or ``'none'``.
        check: validate every record first (missing keys, bool / non-2-D masks,
            non-finite scores) and raise a ``ValueError`` naming the key.

    Returns:
        dict: ``final_score, srcc, plcc, precision, recall, f1_score, giou`` (the scorer's
        numbers) plus the diagnostics ``pixel_precision, pixel_recall, pixel_f1`` and the
        counts ``num_images, num_pred_regions, num_pred_hit, num_gt_regions,
        num_gt_missed``. Undefined numbers are NaN, with a warning.

    Raises:
        ValueError: a missing key or, with ``check``, an invalid record.
    """
    if plcc_fit not in PLCC_FITS:
        raise ValueError(f'plcc_fit must be one of {PLCC_FITS}, got {plcc_fit!r}')
    missing = [k for k in gts if k not in preds]
    if missing:
        raise ValueError(f'the submission lacks {len(missing)} of the {len(gts)} GT keys, '
                         f'e.g. {missing[:5]} (keys are image names without extension)')
    counts, pred_scores, gt_scores = [], [], []
    for key in gts:
        gt_entry, pred_entry = _entry(gts, key, 'GT'), _entry(preds, key, 'prediction')
        if check:
            check_pred_area(key, pred_entry['pred_area'])
            check_score(key, pred_entry['score'])
            check_gt_area(key, gt_entry['pred_area'])
            check_score(key, gt_entry['score'], 'GT score')
        counts.append(image_region_counts(pred_entry['pred_area'], gt_entry['pred_area'],
                                          area_ratio=area_ratio, gt_min_area=gt_min_area,
                                          iou_thr=iou_thr))
        # Kept as given: the scorer builds its arrays from the raw values.
        pred_scores.append(pred_entry['score'])
        gt_scores.append(gt_entry['score'])
    result = summarize_region_counts(counts)
    _warn_undefined(result)
    result['srcc'] = srcc(gt_scores, pred_scores)
    result['plcc'] = plcc(gt_scores, pred_scores, plcc_fit)
    result['final_score'] = final_score(result['f1_score'], result['srcc'], result['plcc'])
    ordered = {k: result.pop(k) for k in SCORE_KEYS}
    ordered.update(result)
    return ordered


def _warn_undefined(region_result: Mapping) -> None:
    """Warns about the region numbers that are NaN and why."""
    if region_result['num_images'] == 0:
        warnings.warn('no images to score; every number is NaN', RuntimeWarning, stacklevel=3)
        return
    if region_result['num_pred_regions'] == 0:
        warnings.warn('no predicted region counts in any image: precision (and F1) is '
                      'undefined, reporting NaN', RuntimeWarning, stacklevel=3)
    if region_result['num_gt_regions'] == 0:
        warnings.warn('no GT region counts in any image: recall (and F1) is undefined, '
                      'reporting NaN', RuntimeWarning, stacklevel=3)
