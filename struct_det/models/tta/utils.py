# Copyright (c) struct_det contributors. All rights reserved.
"""What the TTA wrappers share: building the model they wrap."""
from typing import Optional, Union

from mmengine.registry import DefaultScope, Registry
from torch import nn


def build_wrapped_model(module: Union[dict, nn.Module],
                        registry: Registry,
                        data_preprocessor: Optional[Union[dict,
                                                          nn.Module]] = None,
                        scope: Optional[str] = None) -> nn.Module:
    """Build the model a TTA wrapper runs on every view.

    Args:
        module (dict | nn.Module): The model or its config; a built model is
            returned as it is.
        registry (Registry): The registry that builds a config, e.g.
            mmdet's or mmseg's ``MODELS``.
        data_preprocessor (dict | nn.Module, optional): Overrides the
            config's data preprocessor. Defaults to None.
        scope (str, optional): Default scope to build under, whatever the
            caller's is; None builds under the current one. Defaults to
            None.

    Returns:
        nn.Module: The model.
    """
    if not isinstance(module, dict):
        return module
    module = dict(module)
    if data_preprocessor is not None:
        module['data_preprocessor'] = data_preprocessor
    if scope is None:
        return registry.build(module)
    with DefaultScope.overwrite_default_scope(scope):
        return registry.build(module)


class WrappedModelInit:
    """Mixin for a TTA wrapper whose only arguments are the wrapped model and
    an optional data preprocessor: builds the model with
    :func:`build_wrapped_model` from the class's ``wrapped_registry`` under
    its ``wrapped_scope`` and passes it on as ``module``.

    Put it before the TTA base class, e.g.
    ``class ScoreTTAModel(WrappedModelInit, BaseTTAModel)``.

    Args:
        module (dict | nn.Module): The wrapped model or its config.
        data_preprocessor (dict | nn.Module, optional): Overrides the
            model's data preprocessor if given. Defaults to None.
    """
    wrapped_registry: Registry
    wrapped_scope: Optional[str] = None

    def __init__(
            self,
            module: Union[dict, nn.Module],
            data_preprocessor: Optional[Union[dict,
                                              nn.Module]] = None) -> None:
        super().__init__(
            module=build_wrapped_model(
                module,
                self.wrapped_registry,
                data_preprocessor,
                scope=self.wrapped_scope))
