"""LoDa (Xu et al., CVPR 2024): the score regressor and its parts."""
from .cosine_linear import CosineLinear
from .distortion_injector import DistortionInjector
from .local_distortion_tokens import LocalDistortionTokens
from .loda import LoDa
from .loda_checkpoint import convert_official_loda_state
from .score_data_preprocessor import ScoreDataPreprocessor
from .timm_backbones import (build_timm_cnn, build_timm_vit,
                             load_backbone_weights, read_state_dict_file)
from .token_cross_attention import TokenCrossAttention

__all__ = [
    'LoDa', 'LocalDistortionTokens', 'DistortionInjector',
    'TokenCrossAttention', 'CosineLinear', 'ScoreDataPreprocessor',
    'build_timm_vit', 'build_timm_cnn', 'load_backbone_weights',
    'read_state_dict_file', 'convert_official_loda_state'
]
