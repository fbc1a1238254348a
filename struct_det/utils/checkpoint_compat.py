"""Let mmengine load its checkpoints under ``torch.load(weights_only=True)``.

mmengine 0.10.7 calls ``torch.load`` without ``weights_only``. Since torch
2.6 that defaults to ``True``, and the restricted unpickler refuses the few
non-tensor types an mmengine checkpoint carries in its ``meta`` (the message
hub's ``HistoryBuffer`` and the numpy arrays, scalars and dtypes inside it),
so ``--resume`` and ``load_from`` break.

Instead of switching the safety check off globally, the exact types are added
to torch's allow-list (the numpy part is the shared list of
:mod:`struct_det.utils.safe_globals`): every other global in a pickle is
still refused.
"""
from typing import Any, List

import torch

from .safe_globals import numpy_safe_globals

# HistoryBuffer registers these in its first instance's __init__, so a fresh
# process that loads a checkpoint before creating any buffer has an empty
# registry.
_BUILTIN_STATISTICS = frozenset(('min', 'max', 'current', 'mean'))


def history_buffer_getattr(obj: Any, name: str) -> Any:
    """Stand in for ``builtins.getattr`` while unpickling, for one pattern.

    A pickled ``HistoryBuffer`` refers to its statistics methods as
    ``getattr(HistoryBuffer, 'mean')``. Allow-listing the real ``getattr``
    would open every attribute of every allowed object; this resolves
    exactly those methods.

    Args:
        obj (Any): The object the pickle asks an attribute of.
        name (str): The attribute's name.

    Returns:
        Callable: The ``HistoryBuffer`` statistics method.

    Raises:
        pickle.UnpicklingError: for any other object or attribute.
    """
    import pickle

    from mmengine.logging import HistoryBuffer

    if obj is HistoryBuffer and name in _BUILTIN_STATISTICS.union(
            HistoryBuffer._statistics_methods):
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'checkpoint asks for getattr({obj!r}, {name!r}), which struct_det '
        'does not allow under weights_only loading; load it with '
        'torch.load(weights_only=False) only if you trust its source')


def checkpoint_safe_globals() -> List[Any]:
    """Return the objects an mmengine checkpoint needs beyond tensors.

    Returns:
        list: Classes and functions to pass to
            ``torch.serialization.add_safe_globals``.
    """
    from mmengine.logging import HistoryBuffer

    safe: List[Any] = [
        HistoryBuffer, (history_buffer_getattr, 'builtins.getattr')
    ]
    # The arrays, scalars and dtypes of the message hub; the same object
    # appears under both numpy module spellings, so keep each once.
    for obj in numpy_safe_globals(frombuffer=False).values():
        if not any(obj is seen for seen in safe):
            safe.append(obj)
    return safe


def allow_mmengine_checkpoints() -> bool:
    """Add mmengine's checkpoint types to torch's ``weights_only`` allow-list.

    A no-op on torch < 2.5, which has no (named) allow-list (and loads
    without ``weights_only`` by default before 2.6 anyway).

    Returns:
        bool: Whether the allow-list was extended.
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
