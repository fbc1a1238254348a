"""Binary distortion masks from model outputs, shared by the metric and the
submission writer.

One rule for both, so what is tuned in validation is what gets submitted:
- instances: the union of the instances with ``score >= score_thr``, their
  masks if the model predicts masks, else their boxes filled (``[floor(x1),
  ceil(x2))`` x ``[floor(y1), ceil(y2))``, clipped to the image);
- heatmaps: the pixels with ``value > thr`` (the organisers' baseline binarises
  its heatmap with ``>``; a 0/1 map keeps its foreground for any thr in [0,
  1)).
Masks are made at the resolution of the outputs (the original image size in
mmdet); the scorer brings them to 512x512 itself.
"""
import sys
from typing import List, Optional, Sequence, Tuple

import numpy as np


def _is_tensor(value) -> bool:
    # Without importing torch: no tensor exists unless torch is already loaded.
    torch = sys.modules.get('torch')
    return torch is not None and isinstance(value, torch.Tensor)


def _as_numpy(value) -> np.ndarray:
    if _is_tensor(value):
        return value.detach().cpu().numpy()
    if hasattr(value, 'to_ndarray'):  # mmdet BitmapMasks / PolygonMasks
        return value.to_ndarray()
    return np.asarray(value)


def boxes_to_masks(boxes, shape: Tuple[int, int]) -> np.ndarray:
    """Fills xyxy boxes into one binary mask each.

    Args:
        boxes (torch.Tensor | np.ndarray): ``(N, 4)`` xyxy boxes (tensor or
            array), pixel coordinates.
        shape (tuple[int, int]): ``(H, W)`` of the output masks.

    Returns:
        np.ndarray: bool array ``(N, H, W)``.
    """
    boxes = _as_numpy(boxes).reshape(-1, 4).astype(np.float64)
    height, width = int(shape[0]), int(shape[1])
    masks = np.zeros((len(boxes), height, width), bool)
    x0 = np.clip(np.floor(boxes[:, 0]), 0, width).astype(int)
    y0 = np.clip(np.floor(boxes[:, 1]), 0, height).astype(int)
    x1 = np.clip(np.ceil(boxes[:, 2]), 0, width).astype(int)
    y1 = np.clip(np.ceil(boxes[:, 3]), 0, height).astype(int)
    for i in range(len(boxes)):
        masks[i, y0[i]:y1[i], x0[i]:x1[i]] = True
    return masks


def instance_union_masks(scores,
                         score_thrs: Sequence[float],
                         shape: Tuple[int, int],
                         masks=None,
                         boxes=None) -> List[np.ndarray]:
    """Union masks of the instances kept at each score threshold.

    The union grows as the threshold falls, so the instances are added in order
    of decreasing score and each union is built from the previous one.

    Args:
        scores (torch.Tensor | np.ndarray): ``(N,)`` instance scores.
        score_thrs (Sequence[float]): thresholds; an instance is kept when
            ``score >= thr``.
        shape (tuple[int, int]): ``(H, W)`` of the image the outputs refer to.
        masks (torch.Tensor | np.ndarray | BitmapMasks, optional):
            ``(N, H, W)`` instance masks (bool/uint8 tensor, array or
            BitmapMasks), or None to use ``boxes``. Defaults to None.
        boxes (torch.Tensor | np.ndarray, optional): ``(N, 4)`` xyxy boxes,
            used when ``masks`` is None. Defaults to None.

    Returns:
        list: one uint8 0/1 array ``(H, W)`` per threshold, in the order given;
            thresholds that keep the same instances share one array object.
    """
    scores_np = _as_numpy(scores).reshape(-1).astype(np.float64)
    height, width = int(shape[0]), int(shape[1])
    if masks is None and boxes is None and len(scores_np):
        raise ValueError('instances need masks or boxes to form a predicted '
                         'region')
    on_device = _is_tensor(masks)
    if on_device:
        torch = sys.modules['torch']
        # Union on the masks' own device: moving N full-size masks to the CPU
        # costs more.
        acc = torch.zeros((height, width),
                          dtype=torch.bool,
                          device=masks.device)
    else:
        acc = np.zeros((height, width), bool)
        if masks is not None and len(scores_np):
            masks = _as_numpy(masks)
    if masks is not None and len(scores_np) and tuple(
            masks.shape[-2:]) != (height, width):
        raise ValueError('instance masks have size '
                         f'{tuple(masks.shape[-2:])}, expected '
                         f'{(height, width)}')
    order = np.argsort(-scores_np, kind='stable')
    sorted_scores = scores_np[order]
    out: List[Optional[np.ndarray]] = [None] * len(score_thrs)
    added = 0
    union = None
    for idx in sorted(range(len(score_thrs)), key=lambda i: -score_thrs[i]):
        keep = int(np.count_nonzero(sorted_scores >= score_thrs[idx]))
        if union is not None and keep == added:
            # Nothing new between the two thresholds: the very same array
            # (callers may reuse work done on it).
            out[idx] = union
            continue
        if keep > added:
            new = order[added:keep]
            if masks is None:
                acc |= boxes_to_masks(_as_numpy(boxes)[new],
                                      (height, width)).any(0)
            elif on_device:
                acc |= masks[torch.as_tensor(
                    new, device=masks.device)].bool().any(0)
            else:
                acc |= masks[new].astype(bool).any(0)
            added = keep
        union = (acc.cpu().numpy() if on_device else acc).astype(np.uint8)
        out[idx] = union
    return out


def heatmap_masks(heatmap, thrs: Sequence[float]) -> List[np.ndarray]:
    """Binarises a heatmap at each threshold (``value > thr``).

    Args:
        heatmap (torch.Tensor | np.ndarray): ``(H, W)`` or ``(1, H, W)`` map
            (tensor or array).
        thrs (Sequence[float]): thresholds.

    Returns:
        list: one uint8 0/1 array ``(H, W)`` per threshold.
    """
    heat = _as_numpy(heatmap)
    if heat.ndim == 3 and heat.shape[0] == 1:
        heat = heat[0]
    if heat.ndim != 2:
        raise ValueError('a heatmap must be (H, W) or (1, H, W), got '
                         f'{heat.shape}')
    return [np.greater(heat, thr).astype(np.uint8) for thr in thrs]


def union_mask(masks, shape: Tuple[int, int]) -> np.ndarray:
    """The union of ``(N, H, W)`` masks (tensor, array or BitmapMasks), uint8
    0/1 ``(H, W)``.

    Args:
        masks (torch.Tensor | np.ndarray | BitmapMasks): the masks; N may be 0.
        shape (tuple[int, int]): ``(H, W)``, used when the masks carry no size
            of their own.

    Returns:
        np.ndarray: the union (all zero for N == 0).
    """
    if masks is None:
        return np.zeros(tuple(int(s) for s in shape), np.uint8)
    if _is_tensor(masks):
        if masks.shape[0] == 0:
            return np.zeros(tuple(masks.shape[-2:]), np.uint8)
        return masks.bool().any(0).cpu().numpy().astype(np.uint8)
    arr = _as_numpy(masks)
    if arr.ndim == 2:
        return (arr != 0).astype(np.uint8)
    if arr.shape[0] == 0:
        return np.zeros(arr.shape[-2:] if arr.ndim == 3 else tuple(shape),
                        np.uint8)
    return arr.astype(bool).any(0).astype(np.uint8)
