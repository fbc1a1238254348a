# Copyright (c) struct_det contributors. All rights reserved.
"""Co-DETR (Co-DINO): DINO trained with collaborative hybrid assignments."""
from .checkpoint_converter import (ConversionResult, convert_codetr_state_dict,
                                   extract_state_dict)
from .co_atss_head import CoATSSHead
from .co_dino_decoder import CoDinoTransformerDecoder
from .co_dino_head import CoDINOHead
from .co_roi_head import CoStandardRoIHead
from .codetr import CoDETR
from .positive_query_generator import (PositiveQueryGenerator,
                                       positive_query_attn_mask)

__all__ = [
    'CoDETR', 'CoDINOHead', 'CoATSSHead', 'CoStandardRoIHead',
    'CoDinoTransformerDecoder', 'PositiveQueryGenerator',
    'positive_query_attn_mask', 'ConversionResult',
    'convert_codetr_state_dict', 'extract_state_dict'
]
