"""Saved model outputs to submission records: one binary mask and a score.

The samples are those ``tools/test.py --out`` dumps; regions follow
StructureMetric's rule (the union of the instances with score >= thr, their
masks or boxes; heatmap pixels > thr).
"""
from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np

from .functional import to_scorer_mask
from .functional.prediction_masks import heatmap_masks, instance_union_masks
from .functional.sample_fields import sample_field as _get
from .submission_io import image_key

# The winning team's instance score threshold: the default of StructureMetric,
# the inferencer and tools/make_submission.py.
DEFAULT_SCORE_THR = 0.3


def _decode_masks(masks: Any, shape: Tuple[int, int]) -> Any:
    """Decode RLE lists (as mmdet's DumpDetResults writes them).

    Args:
        masks (Any): A list of RLE dicts or of arrays, or an array.
        shape (tuple[int, int]): ``(H, W)`` for an empty list.

    Returns:
        Any: An (N, H, W) uint8 array, or ``masks`` unchanged when it is not a
            list.
    """
    if isinstance(masks, (list, tuple)):
        if not masks:
            return np.zeros((0, int(shape[0]), int(shape[1])), np.uint8)
        if isinstance(masks[0], dict):
            from pycocotools import mask as mask_utils
            decoded = mask_utils.decode(list(masks))
            return np.ascontiguousarray(np.transpose(decoded, (2, 0, 1)))
        return np.stack([np.asarray(m) for m in masks])
    return masks


def _score_value(value: Any) -> Optional[float]:
    """One predicted score (a number, array or tensor) as a float."""
    if value is None:
        return None
    if hasattr(value, 'detach'):
        value = value.detach().cpu().numpy()
    arr = np.asarray(value, np.float64).reshape(-1)
    if arr.size != 1:
        raise ValueError(f'pred_score must hold one value, got {arr.size}')
    return float(arr[0])


def prediction_mask(record: Any,
                    score_thr: float,
                    pred_source: str = 'auto') -> Optional[np.ndarray]:
    """The binary mask of one saved prediction, at the outputs' resolution.

    Args:
        record (Any): One sample of a ``tools/test.py --out`` pickle (a
            dict).
        score_thr (float): Instance score threshold (``>=``) or heatmap
            threshold (``>``).
        pred_source (str): ``'auto'``, ``'instances'``, ``'heatmap'``
            (mmseg's ``seg_logits``) or ``'sem_seg'`` as in StructureMetric.
            Defaults to ``'auto'``.

    Returns:
        np.ndarray | None: A uint8 0/1 mask, None when the record has no
            predicted regions.

    Raises:
        ValueError: When instances come without ``ori_shape``.
    """
    instances = _get(record, 'pred_instances')
    if instances is not None and pred_source in ('auto', 'instances'):
        shape = _get(record, 'ori_shape')
        masks = _get(instances, 'masks')
        if shape is None:
            raise ValueError("a saved prediction lacks 'ori_shape'")
        if masks is not None:
            masks = _decode_masks(masks, shape)
            shape = tuple(masks.shape[-2:])
        boxes = None if masks is not None else _get(instances, 'bboxes')
        return instance_union_masks(
            _get(instances, 'scores'), [score_thr],
            shape[:2],
            masks=masks,
            boxes=boxes)[0]
    if pred_source in ('auto', 'heatmap', 'sem_seg'):
        # Imported here: it imports torch, which the scorer CLIs never load
        # otherwise.
        from .functional.sample_heatmap import sample_heatmap
        heatmap = sample_heatmap(record, pred_source)
        if heatmap is not None:
            return heatmap_masks(heatmap, [score_thr])[0]
    return None


def _by_key(results: Sequence[Any], what: str) -> Dict[str, Any]:
    """Index saved samples by image key, refusing duplicates."""
    out: Dict[str, Any] = {}
    for rec in results:
        path = _get(rec, 'img_path')
        if path is None:
            raise ValueError(f"a saved {what} sample lacks 'img_path'; dump "
                             'it with tools/test.py --out')
        key = image_key(path)
        if key in out:
            raise ValueError(f'{what}: image {key!r} appears twice')
        out[key] = rec
    return out


def predictions_from_results(mask_results: Optional[Sequence[Any]],
                             score_results: Optional[Sequence[Any]] = None,
                             score_thr: float = DEFAULT_SCORE_THR,
                             pred_source: str = 'auto',
                             full_resolution: bool = False) -> Dict[str, dict]:
    """Build a submission from saved model outputs (``tools/test.py --out``).

    Args:
        mask_results (Sequence, optional): Samples giving the regions
            (detector / heatmap / joint model).
        score_results (Sequence, optional): Samples giving ``pred_score`` (e.g.
            a LoDa run); None to take the scores from ``mask_results``.
            Defaults to None.
        score_thr (float): The threshold applied to instances or heatmaps.
            Defaults to :data:`DEFAULT_SCORE_THR`.
        pred_source (str): Which output gives the regions (see
            :func:`prediction_mask`). Defaults to ``'auto'``.
        full_resolution (bool): Keep masks at the image size; by default
            they are written at the scorer's 512x512 with its own resize
            rule, which scores identically and is four times smaller for
            1024-pixel images. Defaults to False.

    Returns:
        dict: ``{key: {"score": float, "pred_area": uint8 array}}``.

    Raises:
        ValueError: Naming the image: duplicate keys, no regions, no score.
    """
    masks_by_key = _by_key(mask_results or [], 'prediction')
    scores_by_key = (
        _by_key(score_results, 'score')
        if score_results is not None else masks_by_key)
    keys = list(masks_by_key) or list(scores_by_key)
    preds: Dict[str, dict] = {}
    for key in keys:
        if key not in masks_by_key:
            raise ValueError(
                f'image {key!r} has a score but no predicted regions')
        if key not in scores_by_key:
            raise ValueError(
                f'image {key!r} has no predicted score in the score results')
        mask = prediction_mask(masks_by_key[key], score_thr, pred_source)
        if mask is None:
            raise ValueError(f'image {key!r}: the saved prediction has '
                             'neither pred_instances nor pred_sem_seg')
        score = _score_value(_get(scores_by_key[key], 'pred_score'))
        if score is None:
            raise ValueError(f"image {key!r}: no pred_score; pass the score "
                             "model's results (--scores) or use a model "
                             'that predicts scores')
        preds[key] = {
            'score': score,
            'pred_area': mask if full_resolution else to_scorer_mask(mask)
        }
    extra = set(scores_by_key) - set(masks_by_key)
    if extra:
        raise ValueError(f'{len(extra)} images have scores but no predicted '
                         f'regions, e.g. {sorted(extra)[:3]}')
    return preds
