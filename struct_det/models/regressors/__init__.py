# Copyright (c) struct_det contributors. All rights reserved.
"""Structure-score regressors: LoDa (``loda/``)."""
from .loda import (CosineLinear, DistortionInjector, LocalDistortionTokens,
                   LoDa, ScoreDataPreprocessor, TokenCrossAttention,
                   build_timm_cnn, build_timm_vit, convert_official_loda_state,
                   load_backbone_weights, read_state_dict_file)

__all__ = [
    'LoDa', 'LocalDistortionTokens', 'DistortionInjector',
    'TokenCrossAttention', 'CosineLinear', 'ScoreDataPreprocessor',
    'build_timm_vit', 'build_timm_cnn', 'load_backbone_weights',
    'read_state_dict_file', 'convert_official_loda_state'
]
