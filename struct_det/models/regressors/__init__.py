# Copyright (c) struct_det contributors. All rights reserved.
"""Structure-score regressors: LoDa (``loda/``), whose public names (its
``__all__``, the one list of them) this package re-exports."""
from .loda import *  # noqa: F401,F403
from .loda import __all__  # noqa: F401
