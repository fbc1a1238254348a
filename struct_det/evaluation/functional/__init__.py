"""Pure functions of the EvalMuse-Structure challenge score (the one source of
truth).

Only numpy, OpenCV and SciPy are imported here (torch is used when the caller
passes tensors, never imported), so the command-line scorer can load this
package without ``struct_det/__init__.py`` (see
``struct_det/light_import.py``).
"""
from .correlation import PLCC_FITS, fit_scores, logistic4, plcc, srcc
from .parallel_counts import (PairInspector, available_cpus, can_fork,
                              platform_forks, resolve_workers,
                              set_region_counts)
from .prediction_masks import (boxes_to_masks, heatmap_masks,
                               instance_union_masks, union_mask)
from .regions import (DEFAULT_AREA_RATIO, DEFAULT_GT_MIN_AREA, DEFAULT_IOU_THR,
                      SCORER_SIZE, MaskRegions, RegionCounts, gt_scorer_mask,
                      gt_scorer_masks, image_region_counts, match_regions,
                      pred_min_area, pred_scorer_masks, region_counts_array,
                      region_counts_from_array, region_iou_matrix,
                      summarize_region_counts, to_scorer_mask)
from .structure_score import (SCORE_KEYS, check_gt_area, check_pred_area,
                              check_score, final_score, score_submission,
                              summarize_notes)

__all__ = [
    'PLCC_FITS', 'fit_scores', 'logistic4', 'plcc', 'srcc', 'boxes_to_masks',
    'heatmap_masks', 'instance_union_masks', 'union_mask', 'PairInspector',
    'available_cpus', 'can_fork', 'platform_forks', 'resolve_workers',
    'set_region_counts', 'DEFAULT_AREA_RATIO', 'DEFAULT_GT_MIN_AREA',
    'DEFAULT_IOU_THR', 'SCORER_SIZE', 'MaskRegions', 'RegionCounts',
    'gt_scorer_mask', 'gt_scorer_masks', 'image_region_counts',
    'match_regions', 'pred_min_area', 'pred_scorer_masks',
    'region_counts_array', 'region_counts_from_array', 'region_iou_matrix',
    'summarize_region_counts', 'to_scorer_mask', 'SCORE_KEYS', 'check_gt_area',
    'check_pred_area', 'check_score', 'final_score', 'score_submission',
    'summarize_notes'
]
