from .grid_crop import GridCrop, grid_crop_views, grid_offsets
from .load_heatmap_annotations import LoadHeatmapAnnotations
from .pack_heatmap_inputs import HEATMAP_META_KEYS, PackHeatmapInputs

__all__ = [
    'GridCrop', 'grid_crop_views', 'grid_offsets', 'LoadHeatmapAnnotations',
    'PackHeatmapInputs', 'HEATMAP_META_KEYS'
]
