"""Which modules FSDP shards as units of their own, named by class in a config.

An FSDP unit gathers its parameters only when its ``forward`` is called.
Detection heads are driven through other methods (``head.loss(...)``,
``roi_head.predict_mask(...)``) that call ``self(...)`` from inside the unit,
bypassing the gather; a size-based policy that happens to make such a head a
unit breaks it. Naming the units instead (backbone blocks, transformer layers:
modules only ever called) keeps every head in the root unit.
"""
from typing import Sequence

import torch.nn as nn
from mmengine.registry import FUNCTIONS


@FUNCTIONS.register_module()
def module_name_wrap_policy(
    module: nn.Module,
    recurse: bool,
    nonwrapped_numel: int,
    module_names: Sequence[str] = ()) -> bool:  # noqa: E125
    """FSDP auto-wrap policy: a unit for every module whose class name is
    listed.

    Used as ``auto_wrap_policy=dict(type='module_name_wrap_policy',
    module_names=['SwinBlock'])`` in an mmengine ``FSDPStrategy``'s
    ``model_wrapper``.

    Args:
        module (nn.Module): the module FSDP asks about.
        recurse (bool): whether FSDP asks to descend into the children (always:
            units may sit anywhere below).
        nonwrapped_numel (int): parameters not yet in a unit (unused).
        module_names (Sequence[str]): the class names to wrap. Defaults to
            ``()``.

    Returns:
        bool: descend (``recurse``) or wrap this module.
    """
    if recurse:
        return True
    return type(module).__name__ in set(module_names)
