"""Lets mmengine load its own checkpoints under ``torch.load(weights_only=True)``.

mmengine 0.10.7 calls ``torch.load`` without ``weights_only``. Since torch 2.6 that
defaults to ``True``, and the restricted unpickler refuses the few non-tensor types an
mmengine checkpoint carries in its ``meta`` (the message hub's ``HistoryBuffer`` and the
numpy arrays, scalars and dtypes inside it), so ``--resume`` and ``load_from`` break.

Instead of switching the safety check off globally, the exact types are added to
torch's allow-list: every other global in a pickle is still refused.
"""
import importlib
from typing import Any, List

import numpy as np
import torch

_NUMPY_GLOBALS = (
    # numpy >= 2 moved numpy.core to numpy._core; checkpoints written under either
    # numpy refer to their own spelling, so both are allowed where they exist.
    ('numpy._core.multiarray', '_reconstruct'),
    ('numpy.core.multiarray', '_reconstruct'),
    ('numpy._core.multiarray', 'scalar'),
    ('numpy.core.multiarray', 'scalar'),
)


# HistoryBuffer registers these in its first instance's __init__, so a fresh process that
# loads a checkpoint before creating any buffer has an empty registry.
_BUILTIN_STATISTICS = frozenset(('min', 'max', 'current', 'mean'))


def _resolve(module: str, name: str) -> Any:
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None


def history_buffer_getattr(obj: Any, name: str) -> Any:
    """Stands in for ``builtins.getattr`` while unpickling, for one pattern only.

    A pickled ``HistoryBuffer`` refers to its statistics methods as
    ``getattr(HistoryBuffer, 'mean')``. Allow-listing the real ``getattr`` would open
    every attribute of every allowed object; this resolves exactly those methods.

    Args:
        obj: the object the pickle asks an attribute of.
        name: the attribute's name.

    Returns:
        The ``HistoryBuffer`` statistics method.

    Raises:
        pickle.UnpicklingError: for any other object or attribute.
    """
    import pickle

    from mmengine.logging import HistoryBuffer

    if obj is HistoryBuffer and name in _BUILTIN_STATISTICS.union(
            HistoryBuffer._statistics_methods):
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'checkpoint asks for getattr({obj!r}, {name!r}), which struct_det does not allow '
        'under weights_only loading; load it with torch.load(weights_only=False) only if '
        'you trust its source')


def checkpoint_safe_globals() -> List[Any]:
    """Returns the objects an mmengine checkpoint needs beyond tensors and containers.

    Returns:
        list: classes and functions to pass to ``torch.serialization.add_safe_globals``.
    """
    from mmengine.logging import HistoryBuffer

    safe: List[Any] = [HistoryBuffer, np.ndarray, np.dtype,
                       (history_buffer_getattr, 'builtins.getattr')]
    safe += [f for f in (_resolve(m, n) for m, n in _NUMPY_GLOBALS) if f is not None]
    # numpy >= 1.25 pickles dtypes by their class (numpy.dtypes.Float64DType, ...).
    dtypes = _resolve('numpy', 'dtypes')
    if dtypes is not None:
        safe += [getattr(dtypes, n) for n in dir(dtypes)
                 if n.endswith('DType') and isinstance(getattr(dtypes, n), type)]
    return safe


def allow_mmengine_checkpoints() -> bool:
    """Adds mmengine's checkpoint types to torch's ``weights_only`` allow-list.

    A no-op on torch < 2.5, which has no (named) allow-list (and loads without ``weights_only``
    by default before 2.6 anyway).

    Returns:
        bool: whether the allow-list was extended.
    """
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is None:
        return False
    try:
        add(checkpoint_safe_globals())
    except TypeError:
        # torch 2.4 accepts plain objects only; mmengine loads there without
        # weights_only anyway.
        return False
    return True
