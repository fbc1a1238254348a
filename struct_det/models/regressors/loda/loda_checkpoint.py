"""Conversion of the released LoDa code's checkpoints to :class:`LoDa`'s.

The released code saves only what it trains plus the frozen ResNet's
BatchNorm buffers (which drifted there, and which its learner was trained
against): ``{'learner': learner.state_dict(), 'bn_buffer': {<resnet buffer
name>: tensor}}``, or a training state with that dict under ``'model'``.
Learner names map to ours as

==============================  ===============================================
released (``learner.``)         struct_det ``LoDa``
==============================  ===============================================
``conv.{s}.0.{weight,bias}``    ``distortion_tokens.branches.{s}.reduce.*``
``conv.{s}.2.weight``           ``distortion_tokens.branches.{s}.mix.weight``
``down_proj.{i}.fc{1,2}.*``     ``injectors.{i}.down.fc{1,2}.*``
``cross_attn.{i}.{q,kv,proj}.*``  ``injectors.{i}.cross_attn.{q,kv,proj}.*``
``up_proj.{i}.fc{1,2}.*``       ``injectors.{i}.up.fc{1,2}.*``
``scale_factor`` (blocks, D)    ``injectors.{i}.scale`` (D,), row i
``head.weight`` (D, 1)          ``head.weight`` (1, D), transposed
``bn_buffer.<name>``            ``cnn.<name>``
==============================  ===============================================
"""
import re
from collections import OrderedDict
from typing import Dict, Mapping, Optional

import torch

_LEARNER_RULES = (
    (re.compile(r'^conv\.(\d+)\.0\.(weight|bias)$'),
     r'distortion_tokens.branches.\1.reduce.\2'),
    (re.compile(r'^conv\.(\d+)\.2\.weight$'),
     r'distortion_tokens.branches.\1.mix.weight'),
    (re.compile(r'^down_proj\.(\d+)\.(fc[12]\.(?:weight|bias))$'),
     r'injectors.\1.down.\2'),
    (re.compile(r'^up_proj\.(\d+)\.(fc[12]\.(?:weight|bias))$'),
     r'injectors.\1.up.\2'),
    (re.compile(r'^cross_attn\.(\d+)\.((?:q|kv|proj)\.(?:weight|bias))$'),
     r'injectors.\1.cross_attn.\2'),
)
_BN_BUFFER_SUFFIXES = ('running_mean', 'running_var', 'num_batches_tracked')
_CLASSIFIER_PREFIXES = ('head.', 'fc.', 'classifier.')


def _strip_module_prefix(state: Mapping[str, object]) -> Dict[str, object]:
    return {
        (k[len('module.'):] if k.startswith('module.') else k): v
        for k, v in state.items()
    }


def convert_official_loda_state(
        checkpoint: Mapping[str, object],
        vit_state: Optional[Mapping[str, torch.Tensor]] = None,
        cnn_state: Optional[Mapping[str, torch.Tensor]] = None,
        source: str = 'checkpoint') -> 'OrderedDict[str, torch.Tensor]':
    """Map a released-LoDa checkpoint onto :class:`LoDa`'s parameter names.

    Args:
        checkpoint (Mapping): The loaded released checkpoint (``learner`` +
            ``bn_buffer``, or a training state with them under ``model``;
            ``module.`` prefixes allowed).
        vit_state (Mapping[str, Tensor], optional): Pretrained ViT weights
            (timm names) to merge in as ``vit.*``, making the result a
            complete checkpoint for testing. Defaults to None.
        cnn_state (Mapping[str, Tensor], optional): Pretrained CNN weights to
            merge in as ``cnn.*``; the checkpoint's BatchNorm buffers take
            precedence over the file's. Defaults to None.
        source (str): The checkpoint file's name, for error messages.
            Defaults to ``'checkpoint'``.

    Returns:
        OrderedDict: ``LoDa`` state dict entries.

    Raises:
        ValueError: When the checkpoint is not in the released layout or has
            unknown entries.
    """
    if 'learner' not in checkpoint and isinstance(
            checkpoint.get('model'), Mapping):
        checkpoint = checkpoint['model']
    checkpoint = _strip_module_prefix(checkpoint)
    lacking = [
        k for k in ('learner', 'bn_buffer')
        if not isinstance(checkpoint.get(k), Mapping)
    ]
    if lacking:
        raise ValueError(
            f'{source}: not a released-LoDa checkpoint, it lacks {lacking} '
            f'(top-level keys: {sorted(checkpoint)[:10]})')

    converted: 'OrderedDict[str, torch.Tensor]' = OrderedDict()
    if vit_state is not None:
        for key, value in vit_state.items():
            if not key.startswith(_CLASSIFIER_PREFIXES):
                converted[f'vit.{key}'] = value
    if cnn_state is not None:
        for key, value in cnn_state.items():
            if not key.startswith(_CLASSIFIER_PREFIXES):
                converted[f'cnn.{key}'] = value

    learner = _strip_module_prefix(checkpoint['learner'])
    num_down = 0
    for key, value in learner.items():
        if key == 'scale_factor':
            continue
        if key == 'head.weight':
            if value.dim() != 2 or value.shape[1] != 1:
                raise ValueError(
                    f'{source}: learner.head.weight should be (embed_dim, 1), '
                    f'got {tuple(value.shape)}')
            converted['head.weight'] = value.t().contiguous()
            continue
        for pattern, replacement in _LEARNER_RULES:
            if pattern.match(key):
                converted[pattern.sub(replacement, key)] = value
                if key.startswith('down_proj.') and key.endswith('fc1.weight'):
                    num_down += 1
                break
        else:
            raise ValueError(
                f'{source}: unknown learner entry {key!r}; expected the '
                'released LoDa learner (conv, down_proj, cross_attn, up_proj, '
                'scale_factor, head)')

    scale = learner.get('scale_factor')
    if scale is None or scale.dim() != 2 or scale.shape[0] != num_down:
        shape = None if scale is None else tuple(scale.shape)
        raise ValueError(
            f'{source}: learner.scale_factor should have one row per adapted '
            f'block ({num_down}), got shape {shape}')
    for index in range(num_down):
        converted[f'injectors.{index}.scale'] = scale[index].clone()

    for key, value in _strip_module_prefix(checkpoint['bn_buffer']).items():
        if not key.endswith(_BN_BUFFER_SUFFIXES):
            raise ValueError(
                f'{source}: bn_buffer entry {key!r} is not a BatchNorm buffer')
        converted[f'cnn.{key}'] = value
    return converted
