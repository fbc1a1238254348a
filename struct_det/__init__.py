"""struct_det: find and score structural distortions in generated images.

Importing the package registers its datasets, transforms, models, metrics and
hooks into mmdet's registries, so configs only need
``custom_imports=dict(imports=['struct_det'], allow_failed_imports=False)``.
"""
from .utils import allow_mmengine_checkpoints
from .version import __version__

# Before anything can load a checkpoint (resume, load_from) under torch >= 2.6.
allow_mmengine_checkpoints()

# isort: off
# yapf: disable
from . import (datasets, engine, evaluation, models,  # noqa: E402,F401
               utils, visualization)
# yapf: enable
# isort: on

__all__ = ['__version__']
