from .overlay import DISTORTION_COLOR, draw_structure_overlay, tile_images
from .score_plot import plot_score_scatter

__all__ = [
    'DISTORTION_COLOR', 'draw_structure_overlay', 'tile_images',
    'plot_score_scatter'
]
