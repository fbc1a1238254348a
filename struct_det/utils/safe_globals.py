"""The globals a trusted pickle of numpy data may name: one allow-list.

Both restricted loaders use it: the submission unpickler
(:mod:`struct_det.evaluation.restricted_pickle`) and the
``torch.load(weights_only=True)`` allow-list of
:mod:`struct_det.utils.checkpoint_compat`. Only numpy is imported, so the
scorer's command-line tools load it without torch.
"""
import codecs
from collections import OrderedDict
from typing import Any, Dict, Tuple

import numpy as np

SafeGlobals = Dict[Tuple[str, str], Any]


def numpy_safe_globals(frombuffer: bool = True) -> SafeGlobals:
    """The numpy globals that rebuild arrays, scalars and dtypes.

    The array-rebuilding functions are resolved from the installed numpy under
    both module spellings, since pickles written under numpy 1.x and 2.x name
    ``numpy.core`` and ``numpy._core`` for the same function. numpy >= 1.25
    pickles dtypes by their class (``numpy.dtypes.Float64DType``, ...), which
    are listed too.

    Args:
        frombuffer (bool): include ``_frombuffer``, which pickle protocol 5
            uses to rebuild arrays from their raw buffer. Defaults to True.

    Returns:
        dict: ``{(module, name): object}``.
    """
    allowed: SafeGlobals = {
        ('numpy', 'ndarray'): np.ndarray,
        ('numpy', 'dtype'): np.dtype,
    }
    try:
        from numpy._core import multiarray, numeric  # numpy >= 2
    except ImportError:  # pragma: no cover - numpy < 2
        from numpy.core import multiarray, numeric
    for prefix in ('numpy.core', 'numpy._core'):
        allowed[(f'{prefix}.multiarray', '_reconstruct')] = \
            multiarray._reconstruct
        allowed[(f'{prefix}.multiarray', 'scalar')] = multiarray.scalar
        if frombuffer and hasattr(numeric, '_frombuffer'):
            allowed[(f'{prefix}.numeric', '_frombuffer')] = \
                numeric._frombuffer
    dtypes = getattr(np, 'dtypes', None)
    if dtypes is not None:
        for name in dir(dtypes):
            obj = getattr(dtypes, name)
            if name.endswith('DType') and isinstance(obj, type):
                allowed[('numpy.dtypes', name)] = obj
    return allowed


def container_safe_globals() -> SafeGlobals:
    """The builtin containers pickles name as globals, and bytes' encoder.

    Protocols below 3 write Python 2 names (``__builtin__``) and spell
    bytes as ``_codecs.encode(text, 'latin1')``.

    Returns:
        dict: ``{(module, name): object}``.
    """
    allowed: SafeGlobals = {
        ('collections', 'OrderedDict'): OrderedDict,
        ('_codecs', 'encode'): codecs.encode,
    }
    for module in ('builtins', '__builtin__'):
        for container in (set, frozenset, bytearray):
            allowed[(module, container.__name__)] = container
    return allowed


def submission_safe_globals() -> SafeGlobals:
    """Everything a submission or gt.pkl may name: numpy data and containers.

    Returns:
        dict: ``{(module, name): object}``.
    """
    allowed = numpy_safe_globals()
    allowed.update(container_safe_globals())
    return allowed
