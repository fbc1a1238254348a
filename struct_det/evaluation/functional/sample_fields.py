"""Reading a field of a data sample in any of the forms it reaches us in.

An evaluator hands over samples as dicts (``DetDataSample.to_dict()``), a
model returns ``BaseDataElement`` objects (``DetDataSample``,
``SegDataSample``, ``InstanceData``, ``PixelData``) and a pickled submission
may hold plain records; the metric, the submission writer, the submission
records and the heatmap reader read all of them with :func:`sample_field`.
Nothing is imported here, so the command-line scorer can use it without torch.
"""
from collections.abc import Mapping
from typing import Any


def sample_field(sample: Any, key: str, default: Any = None) -> Any:
    """A field of a data sample, or ``default`` when it has none.

    Args:
        sample (Any): A data element (``DetDataSample``, ``InstanceData``,
            ...), a mapping (the dict form of one), another object read by
            attribute, or None.
        key (str): The field (data or metainfo), e.g. ``'pred_instances'``.
        default (Any): What a missing field reads as. Defaults to None.

    Returns:
        Any: The field's value, or ``default``.
    """
    if sample is None:
        return default
    if isinstance(sample, Mapping):
        return sample.get(key, default)
    if hasattr(sample, '__contains__'):
        # A data element's methods are attributes too; only its fields count.
        return getattr(sample, key, default) if key in sample else default
    return getattr(sample, key, default)
