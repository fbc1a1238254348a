"""The predicted heatmap and the GT consensus map of a segmentation sample
(mmseg or mmdet).

mmseg's segmentors leave two maps in a sample: ``seg_logits.data`` (for a
one-channel model already the sigmoid heatmap in [0, 1], at the original size;
raw logits for multi-channel models) and ``pred_sem_seg.data`` (its
binarisation). mmdet's semantic heads leave ``pred_sem_seg.sem_seg``. The
metric and the submission writer threshold the soft heatmap, so a list of
thresholds can be calibrated.
"""
from typing import Any, Optional

import numpy as np
import torch

from .sample_fields import sample_field as _get

HEATMAP_SOURCES = ('auto', 'heatmap', 'sem_seg')
_IGNORE_INDEX = 255


def _numpy(value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().float().cpu().numpy()
    return np.asarray(value)


def sample_heatmap(sample: Any, source: str = 'auto') -> Optional[np.ndarray]:
    """The predicted distortion heatmap of one sample, ``(H, W)`` float.

    Args:
        sample (BaseDataElement | dict): a data sample or its dict form.
        source (str): ``'heatmap'`` (mmseg's ``seg_logits``), ``'sem_seg'``
            (``pred_sem_seg``) or ``'auto'`` (``seg_logits`` if present, else
            ``pred_sem_seg``). Defaults to ``'auto'``.

    Returns:
        np.ndarray or None: the heatmap (probabilities for one-channel mmseg
            models; the distortion class's softmax for two-channel ones), None
            when the sample has none.

    Raises:
        ValueError: an unknown source, or a map with more than two channels.
    """
    if source not in HEATMAP_SOURCES:
        raise ValueError(f'heatmap source must be one of {HEATMAP_SOURCES}, '
                         f'got {source!r}')
    if source in ('auto', 'heatmap'):
        logits = _get(sample, 'seg_logits')
        data = _get(logits, 'data')
        if data is not None:
            arr = _numpy(data).astype(np.float32)
            if arr.ndim == 2:
                return arr
            if arr.shape[0] == 1:
                return arr[0]
            # two classes: softmax probability of 'distortion'
            if arr.shape[0] == 2:
                shifted = arr - arr.max(0, keepdims=True)
                exp = np.exp(shifted)
                return exp[1] / exp.sum(0)
            raise ValueError(f'seg_logits with {arr.shape[0]} channels: a '
                             'distortion heatmap has one (sigmoid) or two '
                             '(softmax) channels')
        if source == 'heatmap':
            return None
    sem_seg = _get(sample, 'pred_sem_seg')
    if sem_seg is None:
        return None
    data = _get(sem_seg, 'sem_seg')
    if data is None:
        data = _get(sem_seg, 'data')
    if data is None:
        return None
    arr = _numpy(data).astype(np.float32)
    return arr[0] if arr.ndim == 3 and arr.shape[0] == 1 else arr


def gt_sem_seg_mask(sample: Any) -> Optional[np.ndarray]:
    """The GT consensus map of an mmseg sample (``gt_sem_seg``), uint8 0/1
    ``(H, W)``.

    Class 1 (any non-zero label except mmseg's ignore label 255) is a
    distortion.

    Args:
        sample (BaseDataElement | dict): a data sample or its dict form.

    Returns:
        np.ndarray or None: the mask, None without ``gt_sem_seg``.
    """
    data = _get(_get(sample, 'gt_sem_seg'), 'data')
    if data is None:
        return None
    arr = _numpy(data)
    if arr.ndim == 3 and arr.shape[0] == 1:
        arr = arr[0]
    return ((arr != 0) & (arr != _IGNORE_INDEX)).astype(np.uint8)
