# Copyright (c) struct_det contributors. All rights reserved.
"""Detectors of structural distortions."""
from .codetr import (CoATSSHead, CoDETR, CoDINOHead, CoStandardRoIHead,
                     PositiveQueryGenerator)

__all__ = [
    'CoDETR', 'CoDINOHead', 'CoATSSHead', 'CoStandardRoIHead',
    'PositiveQueryGenerator'
]
