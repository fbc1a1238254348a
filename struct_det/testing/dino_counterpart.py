# Copyright (c) struct_det contributors. All rights reserved.
"""The plain DINO that a Co-DINO config trains collaboratively (for tests,
ablations and speed comparisons; not needed to train or run Co-DINO)."""
import copy
from typing import Mapping

from mmengine.config import ConfigDict

from struct_det.models.detectors.codetr.codetr import resolve_branch_cfgs

# CoDETR arguments that DINO does not have.
CODETR_ONLY_KEYS = ('rpn_head', 'roi_head', 'aux_bbox_head',
                    'with_pos_queries', 'pos_query_cfg', 'eval_module',
                    'eval_index', 'use_lsj', 'aux_extra_level', 'aux_norm_cfg')
INJECTED_HEAD_KEYS = ('share_pred_layer', 'num_pred_layer', 'as_two_stage',
                      'train_cfg', 'test_cfg')
INJECTED_DN_KEYS = ('num_classes', 'embed_dims', 'num_matching_queries')


def dino_counterpart_cfg(codetr_cfg: Mapping) -> ConfigDict:
    """mmdet ``DINO`` model config with the backbone, neck, transformer,
    queries and DETR head of a ``CoDETR`` config, without the auxiliary
    heads (for ablations and speed comparisons).

    ``CoDINOHead`` becomes ``DINOHead``; its test-time ``score_thr`` and
    ``nms`` (which ``DINOHead`` does not apply) are dropped, and so is its
    ``inverse_sigmoid_eps`` (``DINOHead`` inverts its references at 1e-5,
    ``CoDINOHead`` by default at the reference's 1e-3: the two differ for
    references within 1e-3 of 0 or 1). mmdet's DINO decoder only supports
    ``embed_dims=256``.

    Args:
        codetr_cfg (Mapping): A ``CoDETR`` model config.

    Returns:
        ConfigDict: The DINO model config.

    Raises:
        ValueError: When ``codetr_cfg`` is not a ``CoDETR`` config.
    """
    if codetr_cfg.get('type') != 'CoDETR':
        raise ValueError('dino_counterpart_cfg expects a CoDETR model '
                         f"config, got type={codetr_cfg.get('type')!r}")
    cfg = ConfigDict(copy.deepcopy(dict(codetr_cfg)))
    cfg.type = 'DINO'
    for key in CODETR_ONLY_KEYS:
        cfg.pop(key, None)
    cfg.bbox_head.type = 'DINOHead'
    cfg.bbox_head.pop('pos_query_loss_weight', None)
    # DINOHead inverts its references at its own eps (1e-5).
    cfg.bbox_head.pop('inverse_sigmoid_eps', None)
    # Building a detector writes these into its (shared) config; DINO sets
    # them again and refuses to find them.
    for key in INJECTED_HEAD_KEYS:
        cfg.bbox_head.pop(key, None)
    if cfg.get('dn_cfg') is not None:
        for key in INJECTED_DN_KEYS:
            cfg.dn_cfg.pop(key, None)
    # the DETR head's entries of the positional or keyed train/test configs
    _, _, train_cfgs, test_cfgs = resolve_branch_cfgs(
        codetr_cfg.get('roi_head'), codetr_cfg.get('aux_bbox_head'),
        cfg.get('train_cfg'), cfg.get('test_cfg'))
    cfg.train_cfg, cfg.test_cfg = train_cfgs[0], test_cfgs[0]
    if cfg.get('test_cfg') is not None:
        cfg.test_cfg = ConfigDict({
            k: v
            for k, v in cfg.test_cfg.items() if k not in ('nms', 'score_thr')
        })
    return cfg
