# Copyright (c) struct_det contributors. All rights reserved.
"""Convert mmdetection ``projects/CO-DETR`` checkpoints to :class:`CoDETR`.

The released Co-DINO weights (COCO and Objects365, R50 and Swin-L) use the
mmcv-1.x style transformer of that project: everything DETR-related lives
under ``query_head`` (``query_head.transformer.encoder.layers.N.attentions.0``
...), the dense auxiliary heads under ``bbox_head.K``. Our :class:`CoDETR` is
mmdet's :class:`DINO` with the auxiliary heads next to it, so the tensors
only need new names; none is reshaped.
"""
import re
from collections import OrderedDict
from typing import Dict, List, Mapping, NamedTuple, Tuple

from torch import Tensor

# (source pattern, target template); the first matching rule wins.
_TRANSFORMER = r'^query_head\.transformer\.'
KEY_RULES: Tuple[Tuple[str, str], ...] = (
    (_TRANSFORMER + r'encoder\.layers\.(\d+)\.attentions\.0\.',
     r'encoder.layers.\1.self_attn.'),
    (_TRANSFORMER + r'encoder\.layers\.(\d+)\.ffns\.0\.',
     r'encoder.layers.\1.ffn.'),
    (_TRANSFORMER + r'encoder\.layers\.(\d+)\.norms\.(\d+)\.',
     r'encoder.layers.\1.norms.\2.'),
    (_TRANSFORMER + r'decoder\.layers\.(\d+)\.attentions\.0\.',
     r'decoder.layers.\1.self_attn.'),
    (_TRANSFORMER + r'decoder\.layers\.(\d+)\.attentions\.1\.',
     r'decoder.layers.\1.cross_attn.'),
    (_TRANSFORMER + r'decoder\.layers\.(\d+)\.ffns\.0\.',
     r'decoder.layers.\1.ffn.'),
    (_TRANSFORMER + r'decoder\.layers\.(\d+)\.norms\.(\d+)\.',
     r'decoder.layers.\1.norms.\2.'),
    # nn.Sequential(Linear, ReLU, Linear) -> mmdet MLP(layers=[Linear, Linear])
    (_TRANSFORMER + r'decoder\.ref_point_head\.0\.',
     'decoder.ref_point_head.layers.0.'),
    (_TRANSFORMER + r'decoder\.ref_point_head\.2\.',
     'decoder.ref_point_head.layers.1.'),
    (_TRANSFORMER + r'decoder\.norm\.', 'decoder.norm.'),
    (_TRANSFORMER + r'level_embeds$', 'level_embed'),
    (_TRANSFORMER + r'enc_output\.', 'memory_trans_fc.'),
    (_TRANSFORMER + r'enc_output_norm\.', 'memory_trans_norm.'),
    (_TRANSFORMER + r'query_embed\.', 'query_embedding.'),
    (_TRANSFORMER + r'aux_pos_trans\.(\d+)\.',
     r'pos_query_generator.pos_trans.\1.'),
    (_TRANSFORMER + r'aux_pos_trans_norm\.(\d+)\.',
     r'pos_query_generator.pos_trans_norm.\1.'),
    (r'^query_head\.(cls_branches|reg_branches)\.', r'bbox_head.\1.'),
    (r'^query_head\.downsample\.0\.', 'aux_downsample.conv.'),
    (r'^query_head\.downsample\.1\.', 'aux_downsample.gn.'),
    (r'^query_head\.dn_generator\.label_embedding\.',
     'dn_query_generator.label_embedding.'),
    (r'^(backbone|neck|rpn_head|roi_head)\.', r'\1.'),
    (r'^bbox_head\.(\d+)\.', r'aux_bbox_head.\1.'),
)

# Target keys whose shape depends on the number of classes of the source
# dataset (80 for COCO); fine-tuning on another label set starts them anew.
CLASS_SPECIFIC_PATTERNS: Tuple[str, ...] = (
    r'^bbox_head\.cls_branches\.\d+\.',
    r'^dn_query_generator\.label_embedding\.',
    r'^roi_head\.\d+\.bbox_head\.fc_cls\.',
    r'^roi_head\.\d+\.bbox_head\.fc_reg\.',
    r'^roi_head\.\d+\.mask_head\.conv_logits\.',
    r'^aux_bbox_head\.\d+\.atss_cls\.',
)

_COMPILED_RULES = tuple((re.compile(src), dst) for src, dst in KEY_RULES)
_COMPILED_CLASS = tuple(re.compile(p) for p in CLASS_SPECIFIC_PATTERNS)


class ConversionResult(NamedTuple):
    """Outcome of :func:`convert_codetr_state_dict`.

    Attributes:
        state_dict (OrderedDict): Tensors under :class:`CoDETR` names.
        mapping (dict): Source key -> target key of every converted tensor.
        unconverted (list[str]): Source keys no rule knows (left out).
        dropped (list[str]): Target keys left out on purpose (class-specific
            tensors when asked to drop them).
    """
    state_dict: 'OrderedDict[str, Tensor]'
    mapping: Dict[str, str]
    unconverted: List[str]
    dropped: List[str]


def convert_key(key: str) -> str:
    """Map one CO-DETR project key to the :class:`CoDETR` name.

    Args:
        key (str): Source state-dict key.

    Returns:
        str: Target key, or ``''`` when no rule applies.
    """
    for pattern, template in _COMPILED_RULES:
        if pattern.search(key):
            return pattern.sub(template, key, count=1)
    return ''


def is_class_specific(key: str) -> bool:
    """Whether a target key's shape depends on the number of classes."""
    return any(p.search(key) for p in _COMPILED_CLASS)


def extract_state_dict(checkpoint: Mapping) -> Mapping[str, Tensor]:
    """The model tensors of a loaded checkpoint file.

    Accepts mmengine checkpoints (``state_dict``), plain ``model`` dicts and
    bare state dicts; a DDP ``module.`` prefix is removed.

    Args:
        checkpoint (Mapping): What ``torch.load`` returned.

    Returns:
        Mapping[str, Tensor]: The state dict.

    Raises:
        ValueError: When no state dict of tensors is found.
    """
    if not isinstance(checkpoint, Mapping):
        raise ValueError(
            f'expected a checkpoint dict, got {type(checkpoint).__name__}')
    for name in ('state_dict', 'model'):
        if isinstance(checkpoint.get(name), Mapping):
            checkpoint = checkpoint[name]
            break
    if not checkpoint or not all(isinstance(k, str) for k in checkpoint):
        raise ValueError('the checkpoint holds no state dict (expected a '
                         "'state_dict' entry or a mapping of tensor names)")
    if all(k.startswith('module.') for k in checkpoint):
        checkpoint = OrderedDict(
            (k[len('module.'):], v) for k, v in checkpoint.items())
    return checkpoint


def convert_codetr_state_dict(
        state_dict: Mapping[str, Tensor],
        drop_class_specific: bool = False) -> ConversionResult:
    """Rename a CO-DETR project state dict to :class:`CoDETR` names.

    Args:
        state_dict (Mapping[str, Tensor]): Source tensors (e.g. from
            ``co_dino_5scale_r50_lsj_8xb2_1x_coco-69a72d67.pth``).
        drop_class_specific (bool): Leave out the tensors whose shape depends
            on the source classes (see :data:`CLASS_SPECIFIC_PATTERNS`), so a
            model with another ``num_classes`` loads the rest without shape
            mismatches. Defaults to False.

    Returns:
        ConversionResult: Converted tensors, the key mapping, the unknown
            source keys and the dropped target keys.
    """
    converted: 'OrderedDict[str, Tensor]' = OrderedDict()
    mapping: Dict[str, str] = {}
    unconverted: List[str] = []
    dropped: List[str] = []
    for key, value in state_dict.items():
        new_key = convert_key(key)
        if not new_key:
            unconverted.append(key)
            continue
        if drop_class_specific and is_class_specific(new_key):
            dropped.append(new_key)
            continue
        converted[new_key] = value
        mapping[key] = new_key
    return ConversionResult(converted, mapping, unconverted, dropped)
