"""The EvalMuse-Structure challenge score of a whole submission.

``final = 0.7 * F1 + 0.15 * (SRCC + PLCC)`` with the region F1 of
:mod:`.regions` and the correlations of :mod:`.correlation`, computed in the
released scorer's arithmetic so the numbers agree with it to the last digit.
"""
import math
import numbers
import warnings
from typing import Any, Dict, List, Mapping, Optional

import numpy as np

from .correlation import PLCC_FITS, plcc, srcc
from .parallel_counts import PairInspector, set_region_counts
from .regions import (DEFAULT_AREA_RATIO, DEFAULT_GT_MIN_AREA, DEFAULT_IOU_THR,
                      summarize_region_counts)

# The scorer's weights: area_weight and score_weight (split evenly over SRCC
# and PLCC).
AREA_WEIGHT = 0.7
SCORE_WEIGHT = 0.3
# Dtypes cv2.resize accepts, i.e. that the released scorer can read.
_RESIZABLE = (np.uint8, np.uint16, np.int16, np.float32, np.float64)
# The keys score_submission returns, in the scorer's print order first.
SCORE_KEYS = ('final_score', 'srcc', 'plcc', 'precision', 'recall', 'f1_score',
              'giou')


def final_score(f1: float, srcc_value: float, plcc_value: float) -> float:
    """``0.7 * F1 + 0.3 * (PLCC + SRCC) / 2``, in the scorer's order of
    operations.
    """
    return f1 * AREA_WEIGHT + (plcc_value + srcc_value) * SCORE_WEIGHT / 2


def check_score(key: str, score: Any, what: str = 'score') -> Optional[str]:
    """Checks a submission score: a finite real scalar, as the scorer's arrays
    take it.

    Python and numpy numbers and 0-d numpy arrays of them are scored as their
    value (the scorer builds its arrays with ``np.array``); a bool is scored as
    0/1, with a note.

    Args:
        key (str): The record's key, for the message.
        score (Any): The value.
        what (str): The field's name, for the message. Defaults to
            ``'score'``.

    Returns:
        str or None: a note when the value is scored but suspicious (a bool).

    Raises:
        ValueError: naming the key and the problem (not a real number, not
            finite).
    """
    value = score
    if isinstance(
            value,
            np.ndarray) and value.ndim == 0 and value.dtype.kind in 'biuf':
        value = value[()]
    if isinstance(value, (bool, np.bool_)):
        return (f'{key!r}: {what} is a bool ({bool(value)}), scored as '
                f'{int(value)}')
    if not isinstance(value, numbers.Real):
        got = (f'an array of shape {value.shape}' if isinstance(
            value, np.ndarray) else type(value).__name__)
        raise ValueError(f'{key!r}: {what} must be a real number (write '
                         f'float(value)), got {got}')
    if not math.isfinite(float(value)):
        raise ValueError(f'{key!r}: {what} is {value}; every score must be '
                         'finite')
    return None


def check_pred_area(key: str, area: Any) -> Optional[str]:
    """Checks a predicted mask can be scored as the released scorer would.

    Accepted as the scorer reads them: any size, ``(H, W)`` or ``(H, W, 1)``
    (``cv2.resize`` returns one channel), every dtype ``cv2.resize`` takes,
    values ``> 0`` foreground; negative integers are scored the scorer's way
    (see :func:`~.regions.pred_scorer_masks`), with a note.

    Args:
        key (str): The record's key, for the message.
        area (Any): The ``pred_area`` value.

    Returns:
        str or None: a note when the mask is scored but suspicious (negative
            values).

    Raises:
        ValueError: naming the key and the fix, for what the scorer crashes on
            or misreads: not an array, bool, ``(1, H, W)`` or several channels,
            empty, a dtype ``cv2.resize`` rejects, NaN/inf, negative floats.
    """
    if not isinstance(area, np.ndarray):
        raise ValueError(f"{key!r}: pred_area must be a numpy array, got "
                         f"{type(area).__name__}")
    if area.dtype == np.bool_:
        raise ValueError(f"{key!r}: pred_area is a bool array, which crashes "
                         "the scorer's cv2.resize; write "
                         'mask.astype(np.uint8)')
    if area.ndim == 3 and area.shape[0] == 1 and area.shape[2] != 1:
        raise ValueError(f"{key!r}: pred_area has shape {area.shape}; the "
                         "scorer misreads a (1, H, W) array as one row of H "
                         'pixels with W channels: write the 2-D (H, W) mask '
                         '(mask[0])')
    if area.ndim == 3 and area.shape[2] != 1:
        raise ValueError(f"{key!r}: pred_area has shape {area.shape}, "
                         f"{area.shape[2]} channels; the scorer's "
                         "findContours needs one channel: write a 2-D (H, W) "
                         "mask")
    if area.ndim not in (2, 3):
        raise ValueError(f"{key!r}: pred_area has shape {area.shape}; it must "
                         "be a 2-D (H, W) array")
    if area.size == 0:
        raise ValueError(f"{key!r}: pred_area is empty (shape {area.shape})")
    if area.dtype.type not in _RESIZABLE:
        raise ValueError(f"{key!r}: pred_area has dtype {area.dtype}, which "
                         "the scorer's cv2.resize rejects; write a uint8 0/1 "
                         'array')
    if area.dtype.kind == 'f':
        if not np.all(np.isfinite(area)):
            raise ValueError(f"{key!r}: pred_area holds NaN or inf values")
        if area.min() < 0:
            raise ValueError(f"{key!r}: pred_area holds negative floats, "
                             "which the scorer's uint8 cast turns into "
                             'platform-dependent values; write a uint8 0/1 '
                             'array')
    elif area.dtype.kind == 'i' and area.min() < 0:
        return (f'{key!r}: pred_area holds negative values; the scorer\'s '
                'uint8 cast wraps them around (-1 -> 255), so they count as '
                'regions but not in the GIoU')
    return None


def check_gt_area(key: str, area: Any, values: bool = True) -> Optional[str]:
    """Checks a GT mask: a 2-D array of 0/1 values (or 0/255, with a note).

    Args:
        key (str): The record's key, for the message.
        area (Any): The GT ``pred_area`` value.
        values (bool): Also read the pixels (the 0/1 and 0/255 checks);
            False checks the type, shape and dtype only. Defaults to True.

    Returns:
        str or None: a note for a mask holding 255: its regions are scored as
            usual, but the scorer's GIoU counts only pixels equal to 1.

    Raises:
        ValueError: naming the key and the problem.
    """
    if not isinstance(area, np.ndarray) or area.ndim != 2 or area.size == 0:
        shape = getattr(area, 'shape', type(area).__name__)
        raise ValueError(f'GT {key!r}: the mask must be a non-empty 2-D numpy '
                         f'array, got {shape}')
    if area.dtype == np.bool_:
        return None
    if area.dtype.kind not in 'uif':
        raise ValueError(f'GT {key!r}: the mask has dtype {area.dtype}; '
                         'expected uint8 0/1')
    if not values or (area.dtype.kind == 'u' and area.max() <= 1):
        return None
    binary = (area == 0) | (area == 1)
    if np.all(binary):
        return None
    if np.all(binary | (area == 255)):
        return (f'GT {key!r}: the mask is stored as 0/255; its regions are '
                'scored as 0/1, but the scorer\'s GIoU counts only pixels '
                'equal to 1')
    raise ValueError(f'GT {key!r}: the mask holds values other than 0 and 1 '
                     '(or 0 and 255; the scorer counts only pixels equal to 1 '
                     'in its GIoU); binarise it')


def _entry(mapping: Mapping, key: str, side: str) -> Mapping:
    entry = mapping[key]
    if not isinstance(
            entry,
            Mapping) or 'score' not in entry or 'pred_area' not in entry:
        raise ValueError(
            f"{side} {key!r}: each record must be a dict with 'score' and "
            f"'pred_area', got {type(entry).__name__} "
            f"{sorted(entry) if isinstance(entry, Mapping) else ''}")
    return entry


def score_submission(
        preds: Mapping[str, Mapping],
        gts: Mapping[str, Mapping],
        *,
        area_ratio: float = DEFAULT_AREA_RATIO,
        gt_min_area: float = DEFAULT_GT_MIN_AREA,
        iou_thr: float = DEFAULT_IOU_THR,
        plcc_fit: str = 'logistic4',
        check: bool = True,
        workers: Optional[int] = None,
        inspect: Optional[PairInspector] = None) -> Dict[str, float]:
    """Scores a submission against a ground truth exactly as the released
    scorer does.

    Both arguments have the submission form ``{key: {"score": float,
    "pred_area": 2-D array}}``; the GT's masks are 0/1 (stored at 512x512 by
    the organisers) and its ``score`` is the MOS. The GT's key order is the
    evaluation order; extra predicted keys are ignored.

    Args:
        preds (Mapping[str, Mapping]): The submission.
        gts (Mapping[str, Mapping]): The ground truth.
        area_ratio (float): Predicted regions count when their contour area
            exceeds ``512 * 512 * area_ratio``. Defaults to 0.0006.
        gt_min_area (float): GT regions count when their contour area
            exceeds this. Defaults to 150.
        iou_thr (float): Two regions match when their IoU is strictly
            greater than this. Defaults to 0.1.
        plcc_fit (str): ``'logistic4'`` (the scorer, the default),
            ``'poly3'`` or ``'none'``.
        check (bool): Validate every record first (missing keys, bool /
            non-2-D masks, non-finite scores) and raise a ``ValueError``
            naming the key; inputs the released scorer scores but that look
            like mistakes (bool scores, negative mask values, a 0/255 GT)
            are scored its way with a ``UserWarning``. Defaults to True.
        workers (int, optional): Workers for the per-image region counts
            (forked processes, or threads in a process with other threads):
            None for one per core on sets of 64 images or more (see
            :func:`~.parallel_counts.resolve_workers`), 0 or 1 for serial, N
            for N workers; the numbers are the same either way. Defaults to
            None.
        inspect (PairInspector, optional): Called as ``inspect(index,
            pred_area, gt_area)`` right before each image is counted,
            ``index`` in the GT's key order; its findings reach
            ``inspect.collect`` (see
            :class:`~.parallel_counts.PairInspector`). Defaults to None.

    Returns:
        dict: ``final_score, srcc, plcc, precision, recall, f1_score, giou``
            (the scorer's numbers) plus the diagnostics ``pixel_precision,
            pixel_recall, pixel_f1`` and the counts ``num_images,
            num_pred_regions, num_pred_hit, num_gt_regions, num_gt_missed``.
            Undefined numbers are NaN, with a warning.

    Raises:
        ValueError: a missing key or, with ``check``, an invalid record.
    """
    if plcc_fit not in PLCC_FITS:
        raise ValueError(f'plcc_fit must be one of {PLCC_FITS}, got '
                         f'{plcc_fit!r}')
    missing = [k for k in gts if k not in preds]
    if missing:
        raise ValueError(f'the submission lacks {len(missing)} of the '
                         f'{len(gts)} GT keys, e.g. {missing[:5]} (keys are '
                         'image names without extension)')
    pairs, pred_scores, gt_scores = [], [], []
    notes: Dict[str, List[str]] = {
        'negative pred_area values': [],
        'a bool score': [],
        'a 0/255 GT mask': [],
        'a bool GT score': []
    }
    for key in gts:
        gt_entry, pred_entry = _entry(gts, key,
                                      'GT'), _entry(preds, key, 'prediction')
        if check:
            for kind, note in zip(
                    notes, (check_pred_area(key, pred_entry['pred_area']),
                            check_score(key, pred_entry['score']),
                            check_gt_area(key, gt_entry['pred_area']),
                            check_score(key, gt_entry['score'], 'GT score'))):
                if note:
                    notes[kind].append(note)
        pairs.append((pred_entry['pred_area'], gt_entry['pred_area']))
        # Kept as given: the scorer builds its arrays from the raw values.
        pred_scores.append(pred_entry['score'])
        gt_scores.append(gt_entry['score'])
    if check:
        for note in summarize_notes(notes):
            warnings.warn(note, UserWarning, stacklevel=2)
    counts = set_region_counts(
        pairs,
        area_ratio=area_ratio,
        gt_min_area=gt_min_area,
        iou_thr=iou_thr,
        workers=workers,
        inspect=inspect)
    result = summarize_region_counts(counts)
    _warn_undefined(result)
    result['srcc'] = srcc(gt_scores, pred_scores)
    result['plcc'] = plcc(gt_scores, pred_scores, plcc_fit)
    result['final_score'] = final_score(result['f1_score'], result['srcc'],
                                        result['plcc'])
    ordered = {k: result.pop(k) for k in SCORE_KEYS}
    ordered.update(result)
    return ordered


def summarize_notes(notes: Mapping[str, List[str]],
                    limit: int = 3) -> List[str]:
    """Shortens per-record notes: the first ``limit`` of each kind, then a
    count.

    Args:
        notes (Mapping[str, list[str]]): ``{kind: [note, ...]}`` (e.g. one
            kind per check).
        limit (int): Notes of one kind kept verbatim. Defaults to 3.

    Returns:
        list: the notes to show.
    """
    out: List[str] = []
    for kind, group in notes.items():
        out.extend(group[:limit])
        if len(group) > limit:
            out.append(f'... and {len(group) - limit} more records with '
                       f'{kind}')
    return out


def _warn_undefined(region_result: Mapping) -> None:
    """Warns about the region numbers that are NaN and why."""
    if region_result['num_images'] == 0:
        warnings.warn(
            'no images to score; every number is NaN',
            RuntimeWarning,
            stacklevel=3)
        return
    if region_result['num_pred_regions'] == 0:
        warnings.warn(
            'no predicted region counts in any image: precision (and F1) is '
            'undefined, reporting NaN',
            RuntimeWarning,
            stacklevel=3)
    if region_result['num_gt_regions'] == 0:
        warnings.warn(
            'no GT region counts in any image: recall (and F1) is undefined, '
            'reporting NaN',
            RuntimeWarning,
            stacklevel=3)
