"""EvalMuse-Structure: the datasets, the converter's library part and the
transforms (the synthetic sample data lives in :mod:`struct_det.testing`)."""
from . import transforms  # noqa: F401  registers the transforms
from .converter import (CATEGORIES, EvalMuseFormatError,
                        convert_evalmuse_structure, dump_coco, dump_cocos,
                        read_image_size, split_coco, split_output_paths)
from .evalmuse_heatmap import EvalMuseHeatmapDataset
from .evalmuse_structure import EvalMuseStructureDataset
from .rasterize import (RegionError, annotator_count_map, annotator_mask,
                        consensus_instances, consensus_mask, mask_to_instances,
                        region_mask)

__all__ = [
    'CATEGORIES', 'EvalMuseFormatError', 'convert_evalmuse_structure',
    'dump_coco', 'dump_cocos', 'read_image_size', 'split_coco',
    'split_output_paths', 'EvalMuseStructureDataset', 'EvalMuseHeatmapDataset',
    'RegionError', 'annotator_count_map', 'annotator_mask',
    'consensus_instances', 'consensus_mask', 'mask_to_instances', 'region_mask'
]
