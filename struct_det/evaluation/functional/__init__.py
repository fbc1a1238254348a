"""Pure functions of the EvalMuse-Structure challenge score (the one source of truth)."""
from .correlation import PLCC_FITS, fit_scores, logistic4, plcc, srcc
from .prediction_masks import boxes_to_masks, heatmap_masks, instance_union_masks, union_mask
from .regions import (DEFAULT_AREA_RATIO, DEFAULT_GT_MIN_AREA, DEFAULT_IOU_THR, SCORER_SIZE,
                      MaskRegions, RegionCounts, gt_scorer_mask, image_region_counts,
                      match_regions, pred_min_area, region_counts_array,
                      region_counts_from_array, region_iou_matrix, summarize_region_counts,
                      to_scorer_mask)
from .structure_score import (SCORE_KEYS, check_gt_area, check_pred_area, check_score,
                              final_score, score_submission)

__all__ = [
    'PLCC_FITS', 'fit_scores', 'logistic4', 'plcc', 'srcc', 'boxes_to_masks', 'heatmap_masks',
    'instance_union_masks', 'union_mask', 'DEFAULT_AREA_RATIO', 'DEFAULT_GT_MIN_AREA',
    'DEFAULT_IOU_THR', 'SCORER_SIZE', 'MaskRegions', 'RegionCounts', 'gt_scorer_mask',
    'image_region_counts', 'match_regions', 'pred_min_area', 'region_counts_array',
    'region_counts_from_array', 'region_iou_matrix', 'summarize_region_counts',
    'to_scorer_mask', 'SCORE_KEYS', 'check_gt_area', 'check_pred_area', 'check_score',
    'final_score', 'score_submission'
]
