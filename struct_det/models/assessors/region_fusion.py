"""Rules that merge a distortion heatmap with instance masks.

The two-tier systems (a semantic segmentor beside an instance detector) use
them inside :class:`~struct_det.models.assessors.StructureAssessor`.
"""
from typing import Optional

import cv2
import numpy as np
import torch
from mmengine.structures import InstanceData

#: ``'union'``: instances plus the heatmap's regions; ``'gated'``: instances
#: whose mean heatmap passes ``gate_thr``; ``'vote'``: pixels whose weighted
#: vote passes ``vote_thr``; ``'heatmap'`` / ``'instances'``: one tier alone
#: (ablations).
FUSION_MODES = ('union', 'gated', 'vote', 'heatmap', 'instances')


def empty_instances(height: int, width: int, device='cpu') -> InstanceData:
    """No instances, with masks of the image size.

    Args:
        height (int): Image height.
        width (int): Image width.
        device (str | torch.device): Device of the tensors.
            Defaults to ``'cpu'``.

    Returns:
        InstanceData: Empty ``bboxes``, ``scores``, ``labels`` and ``masks``
            (``(0, H, W)``).
    """
    inst = InstanceData()
    inst.bboxes = torch.zeros((0, 4), device=device)
    inst.scores = torch.zeros((0, ), device=device)
    inst.labels = torch.zeros((0, ), dtype=torch.long, device=device)
    inst.masks = torch.zeros((0, height, width),
                             dtype=torch.bool,
                             device=device)
    return inst


def mask_instances(binary: np.ndarray,
                   score_map: np.ndarray,
                   min_area: int = 0,
                   device='cpu') -> InstanceData:
    """The 8-connected components of a binary mask as instances.

    Args:
        binary (np.ndarray): ``(H, W)`` mask; non-zero is foreground.
        score_map (np.ndarray): ``(H, W)`` values; each instance scores their
            mean over its pixels.
        min_area (int): Components with fewer pixels are dropped.
            Defaults to 0.
        device (str | torch.device): Device of the returned tensors.
            Defaults to ``'cpu'``.

    Returns:
        InstanceData: ``masks`` (bool ``(N, H, W)``), ``bboxes`` (xyxy, end
            exclusive), ``scores``, ``labels`` (0), largest score first.
    """
    height, width = binary.shape
    num, labels, stats, _ = cv2.connectedComponentsWithStats(
        (binary != 0).astype(np.uint8), connectivity=8, ltype=cv2.CV_32S)
    keep = [
        i for i in range(1, num)
        if stats[i, cv2.CC_STAT_AREA] >= max(min_area, 1)
    ]
    if not keep:
        return empty_instances(height, width, device)
    ids = np.asarray(keep)
    masks = labels[None] == ids[:, None, None]
    sums = np.bincount(
        labels.ravel(),
        weights=score_map.ravel().astype(np.float64),
        minlength=num)
    scores = sums[ids] / stats[ids, cv2.CC_STAT_AREA]
    x, y = stats[ids, cv2.CC_STAT_LEFT], stats[ids, cv2.CC_STAT_TOP]
    w, h = stats[ids, cv2.CC_STAT_WIDTH], stats[ids, cv2.CC_STAT_HEIGHT]
    order = np.argsort(-scores, kind='stable')
    inst = InstanceData()
    inst.masks = torch.from_numpy(masks[order]).to(device)
    inst.bboxes = torch.from_numpy(
        np.stack([x, y, x + w, y + h], 1)[order].astype(np.float32)).to(device)
    inst.scores = torch.from_numpy(scores[order].astype(np.float32)).to(device)
    inst.labels = torch.zeros(len(ids), dtype=torch.long, device=device)
    return inst


def _cat(a: InstanceData, b: InstanceData) -> InstanceData:
    out = InstanceData()
    for key in ('bboxes', 'scores', 'labels', 'masks'):
        out[key] = torch.cat([a[key], b[key].to(a[key].device)])
    return out


def fuse_regions(instances: InstanceData,
                 heatmap: Optional[torch.Tensor],
                 mode: str = 'union',
                 heatmap_thr: float = 0.5,
                 gate_thr: float = 0.5,
                 vote_thr: float = 0.5,
                 heatmap_weight: float = 1.0,
                 instance_weight: float = 1.0,
                 min_area: int = 0) -> InstanceData:
    """Merge a heatmap tier and an instance tier into one set of instances.

    Args:
        instances (InstanceData): The instance tier (already
            score-thresholded), with ``masks`` ``(N, H, W)``, ``bboxes``,
            ``scores`` and ``labels``.
        heatmap (Tensor, optional): ``(H, W)`` heatmap in [0, 1], or None (no
            heatmap tier).
        mode (str): One of :data:`FUSION_MODES`. Defaults to ``'union'``.

            - ``'union'``: the instances plus the components of
              ``heatmap > heatmap_thr`` (scored by their mean heatmap); the
              union of their masks is the OR of both tiers;
            - ``'gated'``: the instances whose mean heatmap under their mask
              is ``>= gate_thr`` (an instance the heatmap does not support is
              dropped);
            - ``'vote'``: per pixel ``(heatmap_weight * heatmap +
              instance_weight * [pixel in an instance]) / (heatmap_weight +
              instance_weight)``; the components of ``vote > vote_thr`` are
              the regions, scored by their mean vote;
            - ``'heatmap'``: only the heatmap's components; ``'instances'``:
              only the instances.
        heatmap_thr (float): Binarisation of the heatmap (``>``), for
            'union' and 'heatmap'. Defaults to 0.5.
        gate_thr (float): The mean-heatmap support an instance needs in
            'gated'. Defaults to 0.5.
        vote_thr (float): The vote a pixel needs in 'vote' (``>``).
            Defaults to 0.5.
        heatmap_weight (float): The heatmap tier's weight in 'vote'.
            Defaults to 1.
        instance_weight (float): The instance tier's weight in 'vote'.
            Defaults to 1.
        min_area (int): Heatmap / vote components with fewer pixels are
            dropped. Defaults to 0.

    Returns:
        InstanceData: The fused instances, all with masks of the heatmap's
            size.

    Raises:
        ValueError: For an unknown mode, a mode that needs a heatmap without
            one, or sizes that disagree.
    """
    if mode not in FUSION_MODES:
        raise ValueError(
            f'fusion mode must be one of {FUSION_MODES}, got {mode!r}')
    if heatmap is None:
        if mode != 'instances':
            raise ValueError(
                f'fusion mode {mode!r} needs a heatmap (a segmentor member)')
        return instances
    heat = torch.as_tensor(heatmap).float()
    if heat.dim() == 3 and heat.shape[0] == 1:
        heat = heat[0]
    if heat.dim() != 2:
        raise ValueError(
            f'the heatmap must be (H, W), got {tuple(heat.shape)}')
    height, width = heat.shape
    masks = instances.masks if 'masks' in instances else None
    if masks is not None and len(masks) and tuple(
            masks.shape[-2:]) != (height, width):
        raise ValueError(
            f'instance masks {tuple(masks.shape[-2:])} and heatmap '
            f'{(height, width)} differ in size')
    device = instances.bboxes.device if 'bboxes' in instances else heat.device
    heat_np = heat.detach().cpu().numpy()
    if mode == 'instances':
        return instances
    if mode in ('union', 'heatmap'):
        regions = mask_instances(heat_np > heatmap_thr, heat_np, min_area,
                                 device)
        return regions if mode == 'heatmap' else _cat(instances, regions)
    if masks is None or not len(masks):
        union = torch.zeros((height, width), dtype=torch.bool)
    else:
        union = masks.bool().any(0).cpu()
    if mode == 'gated':
        if masks is None or not len(masks):
            return instances
        m = masks.bool().to(heat.device).float()
        area = m.sum((1, 2))
        support = (m * heat).sum((1, 2)) / area.clamp(min=1)
        keep = (support >= gate_thr) & (area > 0)
        return instances[keep.to(instances.scores.device)]
    total = float(heatmap_weight) + float(instance_weight)
    if not total > 0:
        raise ValueError('fusion vote weights must have a positive sum, got '
                         f'{heatmap_weight} and {instance_weight}')
    vote = (float(heatmap_weight) * heat_np +
            float(instance_weight) * union.numpy().astype(np.float32)) / total
    return mask_instances(vote > vote_thr, vote, min_area, device)
