# Copyright (c) struct_det contributors. All rights reserved.
from .structure_assessor import (StructureAssessor,
                                 build_assessor_with_member_tta)

__all__ = ['StructureAssessor', 'build_assessor_with_member_tta']
