"""Build timm backbones by name and load their weights from local files only.

Run-time hub downloads are not allowed (clusters without internet,
reproducibility), so models are always created with ``pretrained=False`` and
the weights come from a file the config names (``.safetensors``, or a torch
``.pth``/``.bin`` holding a state dict), loaded in ``init_weights``.

timm's own ``create_model(..., pretrained=True,
pretrained_cfg_overlay=dict(file=path))`` loads the same tensors (see
``tests/test_models/test_regressors/test_timm_backbones.py``) but does not
cover two needs: it loads at construction, so a test run that restores a full
checkpoint would need the backbone file too, and once the classifier differs
(``num_classes=0`` here) it loads non-strictly, so a file lacking some blocks
would leave a frozen backbone half random without an error.
"""
import os.path as osp
import sys
from typing import Dict, Optional, Sequence

import torch
import torch.nn as nn
from mmengine.logging import MMLogger

try:
    import timm
except ImportError:  # pragma: no cover - timm is a runtime requirement
    timm = None

# Classifier weights of a checkpoint have no counterpart in a headless
# backbone.
_CLASSIFIER_PREFIXES = ('head.', 'fc.', 'classifier.', 'head_dist.',
                        'last_linear.')


def _require_timm() -> None:
    if timm is None:
        raise ImportError(
            'LoDa builds its backbones with timm: pip install timm')


def read_state_dict_file(path: str) -> Dict[str, torch.Tensor]:
    """Read a weights file into a flat ``{name: tensor}`` dict.

    Args:
        path (str): A ``.safetensors`` file, or a torch file with a state dict
            (optionally under ``state_dict``, ``model`` or ``module``; a
            ``module.`` key prefix from DataParallel is stripped).

    Returns:
        dict[str, Tensor]: Parameter and buffer names to tensors.

    Raises:
        FileNotFoundError: When the file does not exist.
        ValueError: When the file holds no state dict.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'pretrained weights {path!r} not found. Download them once '
            '(the config comment names the source) and point `pretrained` '
            'at the local file; nothing is fetched at run time.')
    if path.endswith('.safetensors'):
        from safetensors.torch import load_file
        state = load_file(path, device='cpu')
    else:
        state = torch.load(path, map_location='cpu', weights_only=True)
    for key in ('state_dict', 'model', 'module'):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
            break
    if not isinstance(state, dict) or not all(
            torch.is_tensor(v) for v in state.values()):
        raise ValueError(
            f'{path}: expected a state dict of tensors (optionally under '
            "'state_dict'/'model'), got something else")
    if state and all(k.startswith('module.') for k in state):
        state = {k[len('module.'):]: v for k, v in state.items()}
    return state


def load_backbone_weights(model: nn.Module, path: str, name: str) -> None:
    """Load a local weights file into a timm model, strictly for its keys.

    Keys the model lacks are reported (classifier heads are expected and
    skipped quietly); keys the file lacks are an error, since a silently
    half-initialised frozen backbone would train a useless adapter.

    Args:
        model (nn.Module): The timm model (a ViT or a ``features_only``
            CNN).
        path (str): The local weights file.
        name (str): A label for messages, e.g. ``'vit'``.

    Raises:
        KeyError: When the file misses some of the model's parameters.
    """
    state = read_state_dict_file(path)
    # timm modules convert foreign layouts (original DINOv2/CLIP, ...) and
    # resample position embeddings to the model's grid in their
    # checkpoint_filter_fn.
    filter_fn = getattr(
        sys.modules.get(type(model).__module__), 'checkpoint_filter_fn', None)
    if filter_fn is not None and hasattr(model, 'blocks'):
        state = filter_fn(state, model)
    own_keys = set(model.state_dict().keys())
    unexpected = [k for k in state if k not in own_keys]
    state = {k: v for k, v in state.items() if k in own_keys}
    missing = sorted(own_keys - set(state))
    if missing:
        raise KeyError(
            f'{path} does not fit the {name} backbone: {len(missing)} of its '
            f'weights are missing from the file, e.g. {missing[:5]}. Check '
            'that the model name in the config matches the checkpoint.')
    model.load_state_dict(state, strict=True)
    logger = MMLogger.get_current_instance()
    ignored = [k for k in unexpected if not k.startswith(_CLASSIFIER_PREFIXES)]
    if ignored:
        logger.warning(
            f'{name} backbone: {len(ignored)} entries of {path} are not used, '
            f'e.g. {ignored[:5]}')
    logger.info(f'{name} backbone: loaded {len(state)} tensors from {path}')


def build_timm_vit(model_name: str,
                   pretrained: Optional[str] = None,
                   **kwargs) -> nn.Module:
    """Create a headless timm ViT.

    Args:
        model_name (str): A timm model name; any ViT exposing ``patch_embed``,
            ``_pos_embed`` and a ``blocks`` sequence (VisionTransformer and its
            variants: registers, DINOv2, CLIP, ...).
        pretrained (str, optional): Not loaded here (see
            :func:`load_backbone_weights`); accepted so that a config's
            backbone dict can be passed whole. Defaults to None.
        **kwargs: Forwarded to ``timm.create_model`` (``img_size``,
            ``depth``, ``dynamic_img_size``, ``drop_path_rate``, ...).

    Returns:
        nn.Module: The ViT, with ``num_classes=0``.

    Raises:
        TypeError: When the model has no ``blocks`` or ``patch_embed``.
    """
    _require_timm()
    kwargs.setdefault('num_classes', 0)
    model = timm.create_model(model_name, pretrained=False, **kwargs)
    required = ('patch_embed', '_pos_embed', 'blocks', 'norm', 'forward_head')
    lacking = [attr for attr in required if not hasattr(model, attr)]
    if lacking or not isinstance(model.blocks, (nn.Sequential, nn.ModuleList)):
        raise TypeError(
            f'timm model {model_name!r} ({type(model).__name__}) is not a '
            f'ViT with a list of blocks (lacks {lacking or ["blocks list"]}); '
            'LoDa injects its adapter before every block of such a model')
    return model


def build_timm_cnn(model_name: str,
                   pretrained: Optional[str] = None,
                   out_indices: Sequence[int] = (1, 2, 3, 4),
                   **kwargs) -> nn.Module:
    """Create a timm CNN that returns multi-scale feature maps.

    Args:
        model_name (str): A timm model name, e.g. ``'resnet50'``.
        pretrained (str, optional): Not loaded here (see
            :func:`load_backbone_weights`). Defaults to None.
        out_indices (Sequence[int]): Feature levels to return; for ResNets
            ``(1, 2, 3, 4)`` are the strides 4, 8, 16, 32. Channels are read
            from the model's ``feature_info``. Defaults to ``(1, 2, 3, 4)``.
        **kwargs: Forwarded to ``timm.create_model``.

    Returns:
        nn.Module: The ``features_only`` extractor (``feature_info`` describes
            its outputs).
    """
    _require_timm()
    return timm.create_model(
        model_name,
        pretrained=False,
        features_only=True,
        out_indices=tuple(out_indices),
        **kwargs)
