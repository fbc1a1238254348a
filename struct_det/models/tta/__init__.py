# Copyright (c) struct_det contributors. All rights reserved.
from .det_mask_tta_model import DetMaskTTAModel
from .heatmap_tta_model import HeatmapTTAModel
from .instance_merge import (box_nms, flip_instances, mask_iou_matrix,
                             masks_to_boxes, merge_instances, resize_instances)
# helper C: score regressors' TTA (averages pred_score over views)
from .score_tta_model import ScoreTTAModel

__all__ = [
    'DetMaskTTAModel', 'merge_instances', 'flip_instances', 'resize_instances',
    'box_nms', 'mask_iou_matrix', 'masks_to_boxes', 'ScoreTTAModel',
    'HeatmapTTAModel'
]
