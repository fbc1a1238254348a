"""Distortion heatmaps on mmsegmentation: timm ViT backbone, U-Net head, score
head.
"""
from .heatmap_segmentor import HeatmapSegmentor
from .pooled_score_head import PooledScoreHead
from .timm_vit import TimmViT
from .unet_heatmap_head import UNetHeatmapHead

__all__ = ['HeatmapSegmentor', 'PooledScoreHead', 'TimmViT', 'UNetHeatmapHead']
