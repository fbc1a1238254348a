"""Region counts of a whole set of images, serially or on several processes on
request.

Each image's counts depend on that image alone, so a set splits into contiguous
chunks that worker processes count independently; the results come back in the
set's order and are exactly the serial ones (the same function runs on the same
arrays). Workers are forked: they read the masks from the parent's memory
(copy-on-write, nothing is pickled but the small count arrays) and need no
imports of their own. OpenCV runs single-threaded while the pool exists (its
thread pool cannot survive a fork). Where ``fork`` is unavailable the counts
run serially.

Serial is the default: on the 999-image benchmark
(``benchmarks/structure_score_speed.py``) a pool on 2 cores was slower than
serial (the per-image work is ~0.3 ms, mostly reading the masks from memory,
which the workers share) and its process tree's PSS was 16% higher.
"""
import multiprocessing
import os
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

from .regions import (DEFAULT_AREA_RATIO, DEFAULT_GT_MIN_AREA, DEFAULT_IOU_THR,
                      RegionCounts, image_region_counts, region_counts_array,
                      region_counts_from_array)

# Chunks per worker: small enough to balance uneven images, few enough to stay
# cheap.
CHUNKS_PER_WORKER = 4

# The set being counted, seen by the forked workers (set just before the pool
# starts).
_JOB: Optional[Tuple[Sequence[Tuple[np.ndarray, np.ndarray]], dict]] = None


def available_cpus() -> int:
    """CPU cores this process may run on."""
    if hasattr(os, 'sched_getaffinity'):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def resolve_workers(num_images: int, workers: Optional[int] = None) -> int:
    """How many processes count a set of ``num_images`` images.

    Args:
        num_images: images in the set.
        workers: None, 0 or 1 for serial (the default), or a number of
            processes (serial where ``fork`` does not exist).

    Returns:
        int: 1 for serial counting, else the number of worker processes.

    Raises:
        ValueError: a negative ``workers``.
    """
    if workers is not None and workers < 0:
        raise ValueError('workers must be None (serial) or >= 0, got '
                         f'{workers}')
    if workers is None or 'fork' not in multiprocessing.get_all_start_methods(
    ):
        return 1
    return max(1, min(int(workers), num_images))


def _count_chunk(bounds: Tuple[int, int]) -> Tuple[np.ndarray, np.ndarray]:
    pairs, options = _JOB
    counts = [
        image_region_counts(pred, gt, **options)
        for pred, gt in pairs[bounds[0]:bounds[1]]
    ]
    return region_counts_array(counts)


def set_region_counts(pairs: Sequence[Tuple[np.ndarray, np.ndarray]],
                      *,
                      area_ratio: float = DEFAULT_AREA_RATIO,
                      gt_min_area: float = DEFAULT_GT_MIN_AREA,
                      iou_thr: float = DEFAULT_IOU_THR,
                      workers: Optional[int] = None) -> List[RegionCounts]:
    """:func:`~.regions.image_region_counts` of every ``(pred_area, gt_area)``
    pair.

    Args:
        pairs: the images' submission mask and GT mask, in evaluation order.
        area_ratio: predicted regions count above ``512 * 512 * area_ratio``.
        gt_min_area: GT regions count above this contour area.
        iou_thr: IoU above which two regions match.
        workers: processes to use (see :func:`resolve_workers`); the result is
            the same for any value.

    Returns:
        list: one :class:`~.regions.RegionCounts` per pair, in order.
    """
    global _JOB
    options = dict(
        area_ratio=area_ratio, gt_min_area=gt_min_area, iou_thr=iou_thr)
    num_workers = resolve_workers(len(pairs), workers)
    if num_workers <= 1:
        return [image_region_counts(pred, gt, **options) for pred, gt in pairs]
    num_chunks = min(len(pairs), num_workers * CHUNKS_PER_WORKER)
    edges = np.linspace(0, len(pairs), num_chunks + 1).round().astype(int)
    _JOB = (pairs, options)
    # OpenCV's thread pool must not be running when the workers are forked: a
    # child inherits its locks but not its threads and hangs in the first
    # parallel cv2 call (or in cv2.setNumThreads). With one thread the parent's
    # pool is shut down first, and the workers (one per core already) run cv2
    # on their own thread.
    cv2_threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        with multiprocessing.get_context('fork').Pool(num_workers) as pool:
            parts = pool.map(
                _count_chunk, list(zip(edges[:-1], edges[1:])), chunksize=1)
    finally:
        _JOB = None
        cv2.setNumThreads(cv2_threads)
    counts: List[RegionCounts] = []
    for ints, gious in parts:
        counts.extend(region_counts_from_array(ints, gious))
    return counts
