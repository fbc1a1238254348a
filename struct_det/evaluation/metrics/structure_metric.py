"""StructureMetric: the EvalMuse-Structure score in mmengine's evaluator."""
import logging
import warnings
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from mmdet.registry import METRICS
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from ..functional import (DEFAULT_AREA_RATIO, DEFAULT_GT_MIN_AREA,
                          DEFAULT_IOU_THR, PLCC_FITS, MaskRegions, final_score,
                          gt_scorer_mask, match_regions, plcc, pred_min_area,
                          region_counts_array, region_counts_from_array, srcc,
                          summarize_region_counts, to_scorer_mask)
from ..functional.prediction_masks import (heatmap_masks, instance_union_masks,
                                           union_mask)
from ..functional.sample_fields import sample_field as _field
from ..functional.sample_heatmap import gt_sem_seg_mask, sample_heatmap
from ..submission_preds import DEFAULT_SCORE_THR

_PRED_SOURCES = ('auto', 'instances', 'heatmap', 'sem_seg')


def threshold_key(name: str, thr: float) -> str:
    """The metric key of a per-threshold number, e.g. ``f1_score@0.3``.

    Args:
        name (str): The metric name.
        thr (float): The threshold.

    Returns:
        str: ``'<name>@<thr>'``.
    """
    return f'{name}@{thr:g}'


@METRICS.register_module()
class StructureMetric(BaseMetric):
    """The NTIRE 2025 EvalMuse-Structure score: region F1, SRCC, PLCC, blend.

    Every number is computed by :mod:`struct_det.evaluation.functional`, the
    same code as ``tools/evaluate_submission.py``, so validation agrees with
    the offline scorer.

    Predicted regions come from ``pred_instances`` (the union of the
    instances with ``score >= score_thr``: their masks, or their boxes filled
    when the model has no mask branch) or from a heatmap (pixels
    ``> score_thr``): mmseg's ``seg_logits`` (the sigmoid heatmap of a
    one-channel segmentor) or ``pred_sem_seg``. The predicted structure score
    is ``pred_score``. The GT is the union of ``gt_instances.masks`` (an image
    without instances is a clean image), or for segmentation samples the
    consensus map ``gt_sem_seg`` (label 1; 255 ignored), brought to 512x512
    like ``tools/misc/make_gt_pkl.py`` does, and ``metainfo['mos']``; test
    pipelines need ``LoadAnnotations(with_mask=True)`` and
    ``PackDetInputs(meta_keys=(..., 'mos'))``.

    Only what the inputs support is reported: without predicted regions (or
    GT masks) no F1 family, without predicted scores (or MOS) no SRCC/PLCC,
    ``final_score`` only with both. Undefined numbers (constant scores, fewer
    than 4 images for the fit, a failed fit, no predicted region anywhere)
    are NaN with a warning.

    Args:
        score_thr (float | Sequence[float] | str): Threshold(s) for instances
            or heatmap pixels. With several, each gets ``f1_score@thr`` (and
            ``final_score@thr``); the main keys are reported at the threshold
            with the best F1 and ``best_score_thr`` names it, so a held-out
            split calibrates the threshold (:class:`StructureCalibrationHook`
            stores it for ``tools/test.py``, which fills it in where the
            config leaves ``score_thr`` out or sets it to ``'calibrated'``).
            Defaults to :data:`~struct_det.evaluation.submission_preds.
            DEFAULT_SCORE_THR` (0.3).
        pred_source (str): ``'auto'`` (instances if present, else
            ``seg_logits``, else ``pred_sem_seg``), ``'instances'``,
            ``'heatmap'`` (``seg_logits``) or ``'sem_seg'``. Defaults to
            ``'auto'``.
        area_ratio (float): Predicted regions count above
            ``512 * 512 * area_ratio``.
        gt_min_area (float): GT regions count above this contour area.
        iou_thr (float): Regions match above this IoU.
        plcc_fit (str): ``'logistic4'`` (the released scorer), ``'poly3'``
            or ``'none'``. Defaults to ``'logistic4'``.
        collect_device (str): ``'cpu'`` or ``'gpu'``, for gathering results
            across ranks. Defaults to ``'cpu'``.
        prefix (str, optional): Metric name prefix; ``'structure'`` when
            None. Defaults to None.
    """
    default_prefix: Optional[str] = 'structure'
    # The winning team's instance score threshold, shared with the tools.
    DEFAULT_SCORE_THR = DEFAULT_SCORE_THR

    def __init__(self,
                 score_thr: Union[float, Sequence[float],
                                  str] = DEFAULT_SCORE_THR,
                 pred_source: str = 'auto',
                 area_ratio: float = DEFAULT_AREA_RATIO,
                 gt_min_area: float = DEFAULT_GT_MIN_AREA,
                 iou_thr: float = DEFAULT_IOU_THR,
                 plcc_fit: str = 'logistic4',
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if score_thr == 'calibrated':
            # tools/test.py replaces it with the stored threshold; reaching
            # here means there was none.
            self._warn("score_thr='calibrated' but no calibrated threshold "
                       f'was applied; using {self.DEFAULT_SCORE_THR}')
            score_thr = self.DEFAULT_SCORE_THR
        thrs = ([score_thr] if isinstance(score_thr,
                                          (int, float)) else list(score_thr))
        if not thrs or not all(
                isinstance(t, (int, float)) and np.isfinite(t) for t in thrs):
            raise ValueError(
                f'score_thr must be a number or a non-empty list of numbers, '
                f'got {score_thr!r}')
        if len(set(thrs)) != len(thrs):
            raise ValueError(f'score_thr has duplicates: {thrs}')
        if pred_source not in _PRED_SOURCES:
            raise ValueError(f'pred_source must be one of {_PRED_SOURCES}, '
                             f'got {pred_source!r}')
        if plcc_fit not in PLCC_FITS:
            raise ValueError(
                f'plcc_fit must be one of {PLCC_FITS}, got {plcc_fit!r}')
        self.score_thrs = [float(t) for t in thrs]
        self.pred_source = pred_source
        self.area_ratio = area_ratio
        self.gt_min_area = gt_min_area
        self.iou_thr = iou_thr
        self.plcc_fit = plcc_fit

    # ------------------------------------------------------------ per sample
    def _pred_masks(self, sample: Any) -> Optional[List[np.ndarray]]:
        """Binary predicted masks per threshold, None without regions."""
        instances = _field(sample, 'pred_instances')
        use_instances = instances is not None and self.pred_source in (
            'auto', 'instances')
        if self.pred_source == 'instances' and instances is None:
            raise ValueError(
                "pred_source='instances' but a sample has no pred_instances")
        if not use_instances:
            heatmap = sample_heatmap(sample, self.pred_source)
            if heatmap is None:
                if self.pred_source in ('sem_seg', 'heatmap'):
                    what = ('seg_logits' if self.pred_source == 'heatmap' else
                            'pred_sem_seg')
                    raise ValueError(
                        f'pred_source={self.pred_source!r} but a sample has '
                        f'no {what}')
                return None
            return heatmap_masks(heatmap, self.score_thrs)
        masks, boxes = _field(instances, 'masks'), _field(instances, 'bboxes')
        scores = _field(instances, 'scores')
        if masks is None and boxes is None:
            return None
        shape = _field(sample, 'ori_shape')
        if masks is not None and len(getattr(masks, 'shape', ())) == 3:
            shape = tuple(masks.shape[-2:])
        if shape is None:
            raise ValueError(
                'cannot size the predicted mask: the sample has neither '
                "instance masks nor 'ori_shape' in its metainfo")
        return instance_union_masks(
            scores,
            self.score_thrs,
            shape[:2],
            masks=masks,
            boxes=None if masks is not None else boxes)

    @staticmethod
    def _gt_mask(sample: Any) -> Optional[np.ndarray]:
        """The GT consensus mask at the scorer's size, None without GT."""
        gt_instances = _field(sample, 'gt_instances')
        if gt_instances is None:
            gt_sem_seg = gt_sem_seg_mask(
                sample)  # mmseg samples: the consensus map
            return None if gt_sem_seg is None else gt_scorer_mask(gt_sem_seg)
        masks = _field(gt_instances, 'masks')
        if masks is None:
            return None
        shape = _field(sample, 'ori_shape')
        return gt_scorer_mask(
            union_mask(masks, shape[:2] if shape is not None else (0, 0)))

    @staticmethod
    def _scalar(sample: Any, key: str) -> Optional[float]:
        """A one-value field (``pred_score``, ``mos``) as a float or None."""
        value = _field(sample, key)
        if value is None:
            return None
        if isinstance(value, torch.Tensor):
            value = value.detach().cpu().numpy()
        arr = np.asarray(value, np.float64).reshape(-1)
        if arr.size != 1:
            raise ValueError(
                f'{key} of image {_field(sample, "img_id")} must hold one '
                f'value, got {arr.size}')
        return float(arr[0])

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        """Turn each sample into a compact record: region counts and scores.

        Args:
            data_batch (Any): The batch from the dataloader (unused).
            data_samples (Sequence[Any]): The model's outputs with GT, as
                dicts or ``DetDataSample``.
        """
        pred_min = pred_min_area(self.area_ratio)
        for sample in data_samples:
            record: Dict[str, Any] = dict(
                img_id=_field(sample, 'img_id'),
                pred_score=self._scalar(sample, 'pred_score'),
                gt_mos=self._scalar(sample, 'mos'),
                region_counts=None,
                gious=None,
                has_pred_regions=False,
                has_gt_regions=False)
            gt_mask = self._gt_mask(sample)
            if gt_mask is not None:
                pred_masks = self._pred_masks(sample)
            else:
                # Nothing to match against: only note whether regions were
                # predicted.
                pred_masks = None
                record['has_pred_regions'] = any(
                    _field(sample, k) is not None
                    for k in ('pred_instances', 'seg_logits', 'pred_sem_seg'))
            record['has_pred_regions'] |= pred_masks is not None
            record['has_gt_regions'] = gt_mask is not None
            if pred_masks is not None and gt_mask is not None:
                gt = MaskRegions(gt_mask, self.gt_min_area)
                # Thresholds keeping the same instances share a mask.
                done: Dict[int, Any] = {}
                counts = []
                for m in pred_masks:
                    if id(m) not in done:
                        done[id(m)] = match_regions(
                            MaskRegions(to_scorer_mask(m), pred_min), gt,
                            self.iou_thr)
                    counts.append(done[id(m)])
                record['region_counts'], record['gious'] = region_counts_array(
                    counts)
            self.results.append(record)

    # ------------------------------------------------------------- whole set
    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Sum the records of the whole set into the challenge numbers.

        Args:
            results (list[dict]): The records of :meth:`process`, gathered
                from every rank.

        Returns:
            dict[str, float]: The numbers the inputs support (see the class
                docstring).
        """
        metrics: Dict[str, float] = {}
        region = [r for r in results if r['region_counts'] is not None]
        per_thr = None
        if region:
            if len(region) < len(results):
                self._warn(
                    f'{len(results) - len(region)} of {len(results)} images '
                    'lack predicted regions or GT masks and are left out of '
                    'the F1')
            per_thr = []
            for t in range(len(self.score_thrs)):
                counts = [
                    region_counts_from_array(r['region_counts'][t:t + 1],
                                             r['gious'][t:t + 1])[0]
                    for r in region
                ]
                per_thr.append(summarize_region_counts(counts))
        elif any(r['has_pred_regions'] for r in results):
            self._warn(
                'no GT masks in the samples: add '
                'LoadAnnotations(with_mask=True) to the pipeline to get the '
                'F1 family')
        elif any(r['has_gt_regions'] for r in results):
            self._warn('the model outputs neither pred_instances nor '
                       'pred_sem_seg: no F1')

        scored = [
            r for r in results
            if r['pred_score'] is not None and r['gt_mos'] is not None
        ]
        have_scores = bool(scored)
        if have_scores:
            if len(scored) < len(results):
                self._warn(
                    f'{len(results) - len(scored)} of {len(results)} images '
                    'lack a predicted score or a MOS and are left out of '
                    'SRCC/PLCC')
            gt = [r['gt_mos'] for r in scored]
            pred = [r['pred_score'] for r in scored]
            metrics['srcc'] = srcc(gt, pred)
            metrics['plcc'] = plcc(gt, pred, self.plcc_fit)
        elif any(r['pred_score'] is not None for r in results):
            self._warn("no 'mos' in the samples' metainfo: add it to "
                       "PackDetInputs' meta_keys to get SRCC/PLCC")

        if per_thr is not None:
            best = self._best_threshold(per_thr)
            chosen = per_thr[best] if best is not None else per_thr[0]
            for key in ('precision', 'recall', 'f1_score', 'giou', 'pixel_f1'):
                metrics[key] = chosen[key]
            for key, why in (('num_pred_regions',
                              'no predicted region counts in any image: '
                              'precision and F1 are NaN'),
                             ('num_gt_regions',
                              'no GT region counts in any image: recall '
                              'and F1 are NaN')):
                if chosen[key] == 0:
                    self._warn(why)
            metrics['best_score_thr'] = (
                self.score_thrs[best] if best is not None else float('nan'))
            if have_scores:
                metrics['final_score'] = final_score(chosen['f1_score'],
                                                     metrics['srcc'],
                                                     metrics['plcc'])
            if len(self.score_thrs) > 1:
                for thr, res in zip(self.score_thrs, per_thr):
                    metrics[threshold_key('f1_score', thr)] = res['f1_score']
                    if have_scores:
                        key = threshold_key('final_score', thr)
                        metrics[key] = final_score(res['f1_score'],
                                                   metrics['srcc'],
                                                   metrics['plcc'])
        return {k: float(v) for k, v in metrics.items()}

    def _best_threshold(self, per_thr: List[dict]) -> Optional[int]:
        """The threshold index with the best F1 (first on ties), or None.

        Args:
            per_thr (list[dict]): The summed numbers at each threshold.

        Returns:
            int | None: The index, None when F1 is NaN at every threshold.
        """
        f1 = np.array([r['f1_score'] for r in per_thr], np.float64)
        if np.all(np.isnan(f1)):
            self._warn(
                'F1 is undefined at every threshold; best_score_thr is NaN')
            return None
        return int(np.nanargmax(f1))

    @staticmethod
    def _warn(message: str) -> None:
        print_log(
            f'StructureMetric: {message}',
            logger='current',
            level=logging.WARNING)
        warnings.warn(message, RuntimeWarning, stacklevel=3)
