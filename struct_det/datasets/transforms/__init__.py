from .grid_crop import GridCrop, grid_crop_views, grid_offsets
from .load_heatmap_annotations import LoadHeatmapAnnotations
from .pack_heatmap_inputs import HEATMAP_META_KEYS, PackHeatmapInputs
from .pillow_resize import PIL_FILTERS, PillowResize, short_side_size
from .seeded_random_crop import (SeededRandomCrop, seeded_crop_offset,
                                 seeded_random_crop_views)

__all__ = [
    'GridCrop', 'grid_crop_views', 'grid_offsets', 'LoadHeatmapAnnotations',
    'PackHeatmapInputs', 'HEATMAP_META_KEYS', 'PIL_FILTERS', 'PillowResize',
    'short_side_size', 'SeededRandomCrop', 'seeded_crop_offset',
    'seeded_random_crop_views'
]
