# Copyright (c) struct_det contributors. All rights reserved.
"""Merging sets of instance predictions (boxes, scores, labels, masks).

One implementation serves two callers: :class:`DetMaskTTAModel` merges the
views of one image (flips, scales) and :class:`StructureAssessor` merges the
predictions of several detectors. Everything here works on
:class:`~mmengine.structures.InstanceData` and runs on the device of its
inputs. Box IoU, box flips and box rescaling are mmdet's (``bbox_overlaps``,
``bbox_flip``, ``scale_boxes``) and box NMS is mmcv's ``batched_nms``; what
mmdet and mmcv do not have (mask IoU, clustering NMS, score-weighted mask
voting) is written here.

Merge modes:

* ``'union'``: keep every instance (sorted by score).
* ``'nms'``: greedy non-maximum suppression by box IoU (mmcv's
  ``batched_nms``); survivors unchanged.
* ``'mask_nms'``: greedy NMS by mask IoU (box IoU where there are no masks).
* ``'mask_vote'``: cluster by mask IoU (box IoU without masks); each cluster
  becomes one instance whose mask is the score-weighted pixel vote of its
  members and whose box is that mask's tight box (weighted mean box without
  masks).
* ``'wbf'``: weighted box fusion: cluster by box IoU; the fused box is the
  score-weighted mean box, the fused mask (if any) the score-weighted vote.
  This is not mmdet's ``weighted_boxes_fusion`` (see :func:`merge_instances`).
"""
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from mmcv.ops import batched_nms
from mmdet.structures.bbox import bbox_flip, bbox_overlaps, scale_boxes
from mmengine.structures import InstanceData
from scipy.sparse.csgraph import connected_components
from torch import Tensor

MERGE_MODES = ('union', 'nms', 'mask_nms', 'mask_vote', 'wbf')
SCORE_MODES = ('max', 'mean', 'mean_all')
FLIP_DIRECTIONS = ('horizontal', 'vertical', 'diagonal')

# Upper bound on the float elements materialised per chunk when counting
# mask intersections; keeps a 1024x1024 TTA merge within a few hundred MB.
_MASK_IOU_CHUNK_ELEMS = 2**26


def _as_tensor(value, device: Optional[torch.device] = None) -> Tensor:
    """A Tensor or numpy array as a Tensor (on ``device`` if given)."""
    if isinstance(value, Tensor):
        return value if device is None else value.to(device)
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value).to(device)
    raise TypeError(f'expected a Tensor or np.ndarray, got {type(value)}')


def masks_to_boxes(masks: Tensor) -> Tensor:
    """Tight boxes of binary masks, like mmdet's ``mask2bbox`` (vectorised).

    Args:
        masks (Tensor): ``(N, H, W)`` boolean masks.

    Returns:
        Tensor: ``(N, 4)`` float boxes ``x1, y1, x2, y2`` with exclusive
            right/bottom edges; all zeros for an empty mask.
    """
    num, height, width = masks.shape
    boxes = masks.new_zeros((num, 4), dtype=torch.float32)
    if num == 0:
        return boxes
    cols = masks.any(dim=1)  # (N, W)
    rows = masks.any(dim=2)  # (N, H)
    nonempty = cols.any(dim=1)
    xs = torch.arange(width, device=masks.device)
    ys = torch.arange(height, device=masks.device)
    # max/min of index where occupied; the fill values make empty rows inert
    x1 = torch.where(cols, xs, width).amin(dim=1)
    x2 = torch.where(cols, xs, -1).amax(dim=1) + 1
    y1 = torch.where(rows, ys, height).amin(dim=1)
    y2 = torch.where(rows, ys, -1).amax(dim=1) + 1
    stacked = torch.stack([x1, y1, x2, y2], dim=1).float()
    boxes[nonempty] = stacked[nonempty]
    return boxes


def _overlap_groups(boxes: Tensor) -> List[Tensor]:
    """Connected groups of boxes under "the boxes overlap"."""
    left_top = torch.maximum(boxes[:, None, :2], boxes[None, :, :2])
    right_bottom = torch.minimum(boxes[:, None, 2:], boxes[None, :, 2:])
    overlap = ((right_bottom - left_top) > 0).all(-1).cpu().numpy()
    num_groups, labels = connected_components(overlap, directed=False)
    labels = torch.from_numpy(labels).to(boxes.device)
    return [(labels == g).nonzero().flatten() for g in range(num_groups)]


def _count_intersections(flat: Tensor) -> Tensor:
    """``flat (N, P)`` bool -> ``(N, N)`` float32 pixel intersections."""
    num = flat.shape[0]
    inter = flat.new_zeros((num, num), dtype=torch.float32)
    chunk = max(1, _MASK_IOU_CHUNK_ELEMS // max(1, flat.shape[1]))
    for start_i in range(0, num, chunk):
        rows_i = flat[start_i:start_i + chunk].float()
        for start_j in range(start_i, num, chunk):
            rows_j = rows_i if start_j == start_i else \
                flat[start_j:start_j + chunk].float()
            block = rows_i @ rows_j.T
            inter[start_i:start_i + chunk, start_j:start_j + chunk] = block
            inter[start_j:start_j + chunk, start_i:start_i + chunk] = block.T
    return inter


def mask_iou_matrix(masks: Tensor,
                    stride: int = 1,
                    tight_boxes: Optional[Tensor] = None) -> Tensor:
    """Pairwise IoU of binary masks of one image.

    Masks whose tight boxes do not overlap cannot intersect, so the masks are
    split into groups connected by box overlap and each group is compared
    inside the box that holds it: a few distortions in a large image cost
    their own area, not the image's. Intersections are counted with chunked
    float32 matrix products (exact up to 2**24 pixels, bounded memory).

    Args:
        masks (Tensor): ``(N, H, W)`` boolean masks.
        stride (int): Count only every ``stride``-th row and column, a cheap
            approximation for large images (1 = exact).
        tight_boxes (Tensor, optional): ``masks_to_boxes(masks)`` if the
            caller has it already (ignored when ``stride > 1``).

    Returns:
        Tensor: ``(N, N)`` IoU; 0 where both masks are empty.
    """
    if stride < 1:
        raise ValueError(f'mask IoU stride must be >= 1, got {stride}')
    if stride > 1:
        masks = masks[:, ::stride, ::stride]
    masks = masks.bool()
    num = masks.shape[0]
    iou = masks.new_zeros((num, num), dtype=torch.float32)
    if num == 0:
        return iou
    if tight_boxes is None or stride > 1:
        tight_boxes = masks_to_boxes(masks)
    boxes = tight_boxes.long()
    for group in _overlap_groups(boxes.float()):
        x1, y1 = boxes[group, :2].min(dim=0).values.tolist()
        x2, y2 = boxes[group, 2:].max(dim=0).values.tolist()
        crop = masks[:, y1:y2, x1:x2][group].reshape(len(group), -1)
        inter = _count_intersections(crop)
        area = inter.diagonal()  # a mask's intersection with itself
        union = area[:, None] + area[None, :] - inter
        block = torch.where(union > 0, inter / union.clamp(min=1),
                            torch.zeros_like(inter))
        iou[group[:, None], group[None, :]] = block
    return iou


def flip_instances(instances: InstanceData, frame_shape: Tuple[int, int],
                   direction: str) -> InstanceData:
    """Flip boxes and masks inside a frame (a flip is its own inverse).

    Args:
        instances (InstanceData): With ``bboxes`` and optionally ``masks``.
        frame_shape (tuple[int, int]): ``(H, W)`` of the frame the
            coordinates live in.
        direction (str): 'horizontal', 'vertical' or 'diagonal' (both, as
            in mmdet's ``RandomFlip``).

    Returns:
        InstanceData: A new object with flipped ``bboxes`` / ``masks``.
    """
    if direction not in FLIP_DIRECTIONS:
        raise ValueError(f'unknown flip direction {direction!r}; expected '
                         f'one of {FLIP_DIRECTIONS}')
    out = instances.clone()
    out.bboxes = bbox_flip(instances.bboxes, frame_shape, direction)
    dims = []
    if direction in ('horizontal', 'diagonal'):
        dims.append(-1)
    if direction in ('vertical', 'diagonal'):
        dims.append(-2)
    if 'masks' in instances:
        out.masks = torch.flip(instances.masks, dims=dims)
    return out


def resize_instances(instances: InstanceData, src_shape: Tuple[int, int],
                     dst_shape: Tuple[int, int]) -> InstanceData:
    """Bring boxes and masks from one frame size to another.

    Args:
        instances (InstanceData): With ``bboxes`` and optionally ``masks``.
        src_shape (tuple[int, int]): ``(H, W)`` the coordinates live in.
        dst_shape (tuple[int, int]): ``(H, W)`` wanted.

    Returns:
        InstanceData: Rescaled copy (the same object if sizes agree).
    """
    src_shape = tuple(int(v) for v in src_shape)
    dst_shape = tuple(int(v) for v in dst_shape)
    if src_shape == dst_shape:
        return instances
    out = instances.clone()
    scale_y = dst_shape[0] / src_shape[0]
    scale_x = dst_shape[1] / src_shape[1]
    out.bboxes = scale_boxes(instances.bboxes, (scale_x, scale_y))
    if 'masks' in instances:
        masks = instances.masks
        if masks.shape[0] == 0:
            out.masks = masks.new_zeros((0, ) + dst_shape, dtype=torch.bool)
        else:
            resized = F.interpolate(
                masks[:, None].float(),
                size=dst_shape,
                mode='bilinear',
                align_corners=False)
            out.masks = resized[:, 0] >= 0.5
    return out


def cat_instances(instance_list: Sequence[InstanceData],
                  with_masks: Optional[bool] = None) -> InstanceData:
    """Concatenate instance sets of the same image.

    Args:
        instance_list (Sequence[InstanceData]): Sets with ``bboxes``,
            ``scores``, ``labels`` and optionally ``masks``.
        with_masks (bool, optional): Keep masks. Default: only if every
            non-empty set has them.

    Returns:
        InstanceData: ``bboxes``, ``scores``, ``labels`` (+ ``masks``).
    """
    if with_masks is None:
        nonempty = [inst for inst in instance_list if len(inst) > 0]
        with_masks = all('masks' in inst for inst in nonempty) and any(
            'masks' in inst for inst in instance_list)
    out = InstanceData()
    out.bboxes = torch.cat([inst.bboxes.float() for inst in instance_list])
    out.scores = torch.cat([inst.scores.float() for inst in instance_list])
    out.labels = torch.cat([inst.labels.long() for inst in instance_list])
    if with_masks:
        # empty sets may carry masks of any size; non-empty ones must agree
        sized = [
            tuple(inst.masks.shape[-2:])
            for inst in instance_list if 'masks' in inst and len(inst) > 0
        ] or [
            tuple(inst.masks.shape[-2:])
            for inst in instance_list if 'masks' in inst
        ]
        if len(set(sized)) > 1:
            raise ValueError('cannot merge masks of different sizes '
                             f'{sorted(set(sized))}; bring them to one frame '
                             'first (resize_instances)')
        shape = sized[0] if sized else (0, 0)
        out.masks = torch.cat([
            inst.masks.bool()
            if 'masks' in inst and len(inst) > 0 else out.bboxes.new_zeros(
                (0, ) + shape, dtype=torch.bool) for inst in instance_list
        ])
    return out


def greedy_clusters(scores: Tensor,
                    iou: Tensor,
                    iou_thr: float,
                    max_num: int = -1) -> Tuple[Tensor, list]:
    """Greedy NMS that also reports what each survivor suppressed.

    The survivors are exactly those of classic NMS (an instance survives when
    no higher-scored survivor overlaps it by more than ``iou_thr``).

    Args:
        scores (Tensor): ``(N,)``.
        iou (Tensor): ``(N, N)`` overlap; pairs that must never merge (e.g.
            different labels) carry 0.
        iou_thr (float): Suppress when IoU is strictly greater.
        max_num (int): Stop after this many survivors (-1: all).

    Returns:
        tuple[Tensor, list[Tensor]]: Survivor indices (descending score) and,
            for each, the indices of its cluster (itself first).
    """
    num = scores.numel()
    order = torch.argsort(scores, descending=True, stable=True)
    iou_sorted = (iou[order][:, order] > iou_thr).cpu()
    suppressed = torch.zeros(num, dtype=torch.bool)
    keep, clusters = [], []
    for rank in range(num):
        if suppressed[rank]:
            continue
        members = iou_sorted[rank] & ~suppressed
        members[rank] = False
        suppressed |= members
        suppressed[rank] = True
        member_ranks = torch.cat(
            [torch.tensor([rank]),
             members.nonzero().flatten()])
        keep.append(order[rank])
        clusters.append(order[member_ranks.to(order.device)])
        if 0 < max_num <= len(keep):
            break
    if keep:
        return torch.stack(keep), clusters
    return order.new_zeros((0, )), clusters


def box_nms(instances: InstanceData,
            iou_thr: float,
            class_agnostic: bool = False,
            max_num: int = -1) -> Tensor:
    """Greedy box NMS by mmcv's ``batched_nms``, with stable tie-breaking.

    The survivors are those of :func:`greedy_clusters` on the box IoU. Two
    of mmcv's choices differ from ours and are worked around: its sort is
    not stable (equal scores could come out in any order), so it is given
    every candidate's rank in a stable descending sort as its score; and
    for class-aware NMS it shifts each class's boxes by
    ``label * (max coordinate + 1)``, which rounds float32 coordinates
    (1/128 px at 80 classes and 1024 px) and lets classes meet when a box
    has negative coordinates, so each label is suppressed on its own.

    Args:
        instances (InstanceData): With ``bboxes``, ``scores``, ``labels``.
        iou_thr (float): Suppress when the IoU is strictly greater.
        class_agnostic (bool): Suppress across labels.
        max_num (int): Keep at most this many survivors (-1: all).

    Returns:
        Tensor: Indices of the survivors, by descending score.
    """
    order = torch.argsort(instances.scores, descending=True, stable=True)
    num = order.numel()
    boxes = instances.bboxes[order].float()
    labels = instances.labels[order]
    ranks = torch.arange(num, 0, -1, dtype=torch.float32, device=boxes.device)
    nms_cfg = dict(type='nms', iou_threshold=float(iou_thr))
    if class_agnostic:
        parts = [torch.arange(num, device=boxes.device)]
    else:
        parts = [(labels == label).nonzero().flatten()
                 for label in torch.unique(labels)]
    kept = []
    for part in parts:
        _, keep = batched_nms(
            boxes[part],
            ranks[part],
            labels[part],
            nms_cfg,
            class_agnostic=True)
        kept.append(part[keep])
    kept = torch.cat(kept).sort().values  # back to descending score
    if max_num > 0:
        kept = kept[:max_num]
    return order[kept]


def merge_instance_groups(instance_list: Sequence[InstanceData],
                          with_masks: Optional[bool] = None,
                          **merge_kwargs) -> InstanceData:
    """Merge one image's instance sets (views, detectors), each its own
    group: :func:`cat_instances`, then :func:`merge_instances` with the
    index of each candidate's set as its group id.

    Args:
        instance_list (Sequence[InstanceData]): The sets, in group order.
        with_masks (bool, optional): As in :func:`cat_instances`.
        **merge_kwargs: The other arguments of :func:`merge_instances`
            (all but ``instances`` and ``groups``).

    Returns:
        InstanceData: The merged set, as :func:`merge_instances` gives it.
    """
    candidates = cat_instances(instance_list, with_masks=with_masks)
    groups = torch.cat([
        torch.full((len(inst), ), idx, dtype=torch.long)
        for idx, inst in enumerate(instance_list)
    ]).to(candidates.bboxes.device)
    return merge_instances(candidates, groups=groups, **merge_kwargs)


def merge_instances(instances: InstanceData,
                    mode: str = 'mask_nms',
                    iou_thr: float = 0.5,
                    score_mode: Optional[str] = None,
                    vote_thr: float = 0.5,
                    groups: Optional[Tensor] = None,
                    group_weights: Optional[Sequence[float]] = None,
                    class_agnostic: bool = False,
                    max_num: int = -1,
                    mask_iou_stride: int = 1) -> InstanceData:
    """Merge one image's candidate instances into a final set.

    Args:
        instances (InstanceData): Candidates with ``bboxes (N, 4)``,
            ``scores (N,)``, ``labels (N,)`` and optionally
            ``masks (N, H, W)``, all in the same frame.
        mode (str): One of :data:`MERGE_MODES` (see module docstring).
        iou_thr (float): Overlap above which two candidates are duplicates.
        score_mode (str, optional): Score of a fused cluster ('mask_vote',
            'wbf'): 'max' (best member), 'mean' (mean over the groups that
            found it of each group's best member; a group that found nothing
            changes nothing) or 'mean_all' (the same mean over all groups,
            missing groups counting 0: agreement raises confidence). NMS
            modes keep the survivor's own score. Default: 'mean'.
        vote_thr (float): A pixel belongs to a fused mask when the
            score-weighted share of members covering it is >= this.
        groups (Tensor, optional): ``(N,)`` group id (view or detector) of each
            candidate, ids in ``[0, num_groups)``. Default: all in group 0.
        group_weights (Sequence[float], optional): Weight of each group in
            fusion (e.g. trust of a detector). Default: all 1.
        class_agnostic (bool): Merge candidates of different labels.
        max_num (int): Keep at most this many instances (-1: all).
        mask_iou_stride (int): Pixel stride for mask IoU (1 = exact).

    Returns:
        InstanceData: Merged ``bboxes``, ``scores``, ``labels`` (+ ``masks``),
            sorted by descending score.

    Note:
        ``'wbf'`` is not mmdet's ``weighted_boxes_fusion`` (ZFTurbo's WBF),
        which differs in what it computes: it matches each box against the
        running fused box of a cluster (ours: against the cluster's best
        box, as NMS does), its ``'avg'`` score is the members' mean score
        scaled by ``min(num_models, len(cluster)) / sum(weights)`` (ours:
        the ``score_mode`` above), it drops zero-area boxes, returns no
        member indices (so masks cannot be fused or carried) and runs on
        the CPU in numpy.
    """
    if mode not in MERGE_MODES:
        raise ValueError(f'unknown merge mode {mode!r}; expected one of '
                         f'{MERGE_MODES}')
    score_mode = score_mode or 'mean'
    if score_mode not in SCORE_MODES:
        raise ValueError(f'unknown score_mode {score_mode!r}; expected one '
                         f'of {SCORE_MODES}')
    if not 0.0 <= iou_thr <= 1.0:
        raise ValueError(f'iou_thr must be in [0, 1], got {iou_thr}')
    num = len(instances)
    device = instances.bboxes.device
    if groups is None:
        groups = torch.zeros(num, dtype=torch.long, device=device)
    groups = groups.to(device).long()
    num_groups = int(groups.max()) + 1 if num else 1
    if group_weights is None:
        weights_of_group = torch.ones(num_groups, device=device)
    else:
        weights_of_group = torch.as_tensor(
            group_weights, dtype=torch.float32, device=device)
        if weights_of_group.numel() < num_groups:
            raise ValueError(f'{weights_of_group.numel()} group weights for '
                             f'{num_groups} groups')
        num_groups = weights_of_group.numel()
    has_masks = 'masks' in instances

    if num == 0:
        return instances.clone()
    if mode == 'union':
        order = torch.argsort(instances.scores, descending=True, stable=True)
        if max_num > 0:
            order = order[:max_num]
        return instances[order]

    use_mask_iou = has_masks and mode in ('mask_nms', 'mask_vote')
    if mode == 'nms' or (mode == 'mask_nms' and not use_mask_iou):
        return instances[box_nms(instances, iou_thr, class_agnostic, max_num)]
    # tight boxes of the masks bound every mask operation below
    tight = masks_to_boxes(instances.masks) if has_masks else None
    if use_mask_iou:
        iou = mask_iou_matrix(
            instances.masks, stride=mask_iou_stride, tight_boxes=tight)
    else:
        # eps as small as the clamp of the union it replaced: the same IoU
        iou = bbox_overlaps(
            instances.bboxes.float(), instances.bboxes.float(), eps=1e-12)
    if not class_agnostic:
        same = instances.labels[:, None] == instances.labels[None, :]
        iou = iou * same
    keep, clusters = greedy_clusters(instances.scores, iou, iou_thr, max_num)

    if mode == 'mask_nms':
        return instances[keep]

    fused_boxes, fused_scores, fused_masks = [], [], []
    if has_masks:
        # votes are cast inside the members' joint box only
        tight = tight.long()
    for cluster in clusters:
        member_groups = groups[cluster]
        member_scores = instances.scores[cluster]
        member_weights = member_scores * weights_of_group[member_groups]
        total = member_weights.sum()
        if total <= 0:
            # all-zero scores: fall back to a plain average
            member_weights = torch.ones_like(member_weights)
            total = member_weights.sum()
        norm_weights = member_weights / total
        # each group's best member decides that group's opinion of the score
        best_per_group = torch.zeros(num_groups, device=device)
        best_per_group = best_per_group.scatter_reduce(
            0, member_groups, member_scores, reduce='amax')
        found = torch.zeros(num_groups, dtype=torch.bool, device=device)
        found[member_groups] = True
        if score_mode == 'max':
            score = member_scores.max()
        elif score_mode == 'mean':
            score = (best_per_group * weights_of_group)[found].sum() / \
                weights_of_group[found].sum()
        else:
            score = (best_per_group * weights_of_group).sum() / \
                weights_of_group.sum()
        fused_scores.append(score)
        box = (instances.bboxes[cluster] * norm_weights[:, None]).sum(0)
        if has_masks:
            x1, y1 = tight[cluster, :2].min(dim=0).values.tolist()
            x2, y2 = tight[cluster, 2:].max(dim=0).values.tolist()
            vote = (instances.masks[cluster, y1:y2, x1:x2].float() *
                    norm_weights[:, None, None]).sum(0)
            # a tiny tolerance keeps an exact 50/50 vote at vote_thr=0.5
            voted = vote >= vote_thr - 1e-6
            mask = torch.zeros_like(instances.masks[0], dtype=torch.bool)
            mask[y1:y2, x1:x2] = voted
            fused_masks.append(mask)
            if mode == 'mask_vote' and bool(voted.any()):
                box = masks_to_boxes(voted[None])[0] + box.new_tensor(
                    [x1, y1, x1, y1])
        fused_boxes.append(box)

    out = InstanceData()
    out.bboxes = torch.stack(fused_boxes)
    out.scores = torch.stack(fused_scores).float()
    out.labels = instances.labels[keep]
    if has_masks:
        out.masks = torch.stack(fused_masks)
    order = torch.argsort(out.scores, descending=True, stable=True)
    return out[order]
