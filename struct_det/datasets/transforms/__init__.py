from .grid_crop import GridCrop, grid_crop_views, grid_offsets

__all__ = ['GridCrop', 'grid_crop_views', 'grid_offsets']
