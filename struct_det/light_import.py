"""Import struct_det's numpy-only modules without running the package's
registering __init__.

``import struct_det`` registers every dataset, model, metric and hook into
mmdet's registries (what ``custom_imports=dict(imports=['struct_det'])`` relies
on), which imports torch, mmengine and mmdet: seconds and hundreds of MB before
anything runs. The challenge scorer needs none of it:
``struct_det.evaluation.functional``, ``struct_det.evaluation.submission`` (and
its ``submission_*`` modules), ``struct_det.datasets.gt_masks`` and
``struct_det.utils.atomic_io`` / ``safe_globals`` / ``test_log`` import only
numpy, OpenCV, SciPy and pycocotools (and each other).

:func:`import_light` imports such modules under their usual names, with their
parent packages (:data:`LIGHT_PARENTS`) entered in ``sys.modules`` as package
objects that are found but not executed; the submodules themselves (including
``functional/__init__.py``) run normally. :func:`import_full` runs the parents'
real ``__init__`` files afterwards, for a tool that needs the rest (e.g. to
read a checkpoint); the modules already loaded are kept. In a process that has
imported ``struct_det`` already, both are plain imports.

This file imports nothing from struct_det and is loaded by path by the
command-line tools (``tools/evaluate_submission.py``,
``tools/make_submission.py``, ``tools/misc/make_gt_pkl.py``), since importing
it as ``struct_det.light_import`` would run the package ``__init__`` first.
"""
import importlib
import importlib.util
import os.path as osp
import sys
from types import ModuleType
from typing import List

# The packages whose __init__ imports the heavy stack, outermost first.
LIGHT_PARENTS = ('struct_det', 'struct_det.datasets', 'struct_det.evaluation',
                 'struct_det.utils')
# Set on the placeholder package objects.
_PLACEHOLDER = '__struct_det_light_placeholder__'


def is_placeholder(module: ModuleType) -> bool:
    """Whether ``module`` is a parent package entered by :func:`import_light`.
    """
    return bool(getattr(module, _PLACEHOLDER, False))


def _package_dir() -> str:
    # locates the package, runs nothing
    spec = importlib.util.find_spec('struct_det')
    if spec is None or not spec.submodule_search_locations:
        raise ImportError('struct_det is neither installed nor on sys.path')
    return list(spec.submodule_search_locations)[0]


def import_light(*names: str) -> List[ModuleType]:
    """Imports numpy-only struct_det modules without the packages' heavy
    ``__init__``.

    Args:
        *names (str): full module names, e.g.
            ``'struct_det.evaluation.functional'``; they (and everything they
            import) must not need the package ``__init__`` files of
            :data:`LIGHT_PARENTS`.

    Returns:
        list: the modules, in the order given.
    """
    if 'struct_det' not in sys.modules:
        root = _package_dir()
        for name in LIGHT_PARENTS:
            folder = osp.join(root, *name.split('.')[1:])
            spec = importlib.util.spec_from_file_location(
                name,
                osp.join(folder, '__init__.py'),
                submodule_search_locations=[folder])
            package = importlib.util.module_from_spec(spec)
            setattr(package, _PLACEHOLDER, True)
            sys.modules[name] = package
            parent, _, child = name.rpartition('.')
            if parent:
                setattr(sys.modules[parent], child, package)
    return [importlib.import_module(name) for name in names]


def import_full() -> ModuleType:
    """Completes a process that used :func:`import_light`: runs the real
    package ``__init__`` files (registering everything), keeping the modules
    already loaded.

    Returns:
        module: the ``struct_det`` package.
    """
    placeholders = [
        name for name in LIGHT_PARENTS
        if name in sys.modules and is_placeholder(sys.modules[name])
    ]
    if not placeholders:
        return importlib.import_module('struct_det')
    loaded = {
        name: module
        for name, module in sys.modules.items()
        if name.startswith('struct_det.') and name not in placeholders
    }
    for name in placeholders:
        del sys.modules[name]
    package = importlib.import_module('struct_det')
    for name in placeholders:
        importlib.import_module(name)
    # Re-attach the modules loaded before: the real parents found them in
    # sys.modules and so did not set them as attributes.
    for name, module in loaded.items():
        parent, _, child = name.rpartition('.')
        if parent in sys.modules and not hasattr(sys.modules[parent], child):
            setattr(sys.modules[parent], child, module)
    return package
