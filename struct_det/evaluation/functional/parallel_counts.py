"""Region counts of a whole set of images, serially or on several threads.

Each image's counts depend on that image alone, so a set splits into
contiguous chunks that worker threads count independently; the results come
back in the set's order and are exactly the serial ones (the same function
runs on the same arrays). The work is OpenCV and numpy calls that release the
GIL, and threads share the masks without copying or pickling anything.
OpenCV runs one thread per worker while the pool exists (its own thread pool
would oversubscribe the cores) and gets its thread count back afterwards.

By default a set of at least :data:`AUTO_MIN_IMAGES` images is counted on
one thread per core: on the 999-image benchmark
(``benchmarks/structure_score_speed.py``, 2 cores) that is faster than
serial, both in-process and as a whole ``tools/evaluate_submission.py`` run.
"""
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, List, Optional, Sequence, Tuple

import cv2
import numpy as np

from .regions import (DEFAULT_AREA_RATIO, DEFAULT_GT_MIN_AREA, DEFAULT_IOU_THR,
                      RegionCounts, image_region_counts)

# Chunks per worker: small enough to balance uneven images, few enough to stay
# cheap.
CHUNKS_PER_WORKER = 4
# The default (workers=None) uses threads from this many images on (a
# challenge split has ~1000; a small set is counted before a pool starts),
# one per core up to MAX_AUTO_WORKERS.
AUTO_MIN_IMAGES = 64
MAX_AUTO_WORKERS = 8


def available_cpus() -> int:
    """CPU cores this process may run on."""
    if hasattr(os, 'sched_getaffinity'):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def resolve_workers(num_images: int, workers: Optional[int] = None) -> int:
    """How many threads count a set of ``num_images`` images.

    Args:
        num_images (int): Images in the set.
        workers (int, optional): None for the default: one thread per core
            (at most :data:`MAX_AUTO_WORKERS`) for sets of at least
            :data:`AUTO_MIN_IMAGES` images, else serial; 0 or 1 for serial;
            N for N threads. Defaults to None.

    Returns:
        int: 1 for serial counting, else the number of worker threads (never
            more than the images).

    Raises:
        ValueError: A negative ``workers``.
    """
    if workers is not None and workers < 0:
        raise ValueError('workers must be None (automatic) or >= 0, got '
                         f'{workers}')
    if workers is None:
        if num_images < AUTO_MIN_IMAGES:
            return 1
        workers = min(available_cpus(), MAX_AUTO_WORKERS)
    return max(1, min(int(workers), num_images))


def set_region_counts(
    pairs: Sequence[Tuple[np.ndarray, np.ndarray]],
    *,
    area_ratio: float = DEFAULT_AREA_RATIO,
    gt_min_area: float = DEFAULT_GT_MIN_AREA,
    iou_thr: float = DEFAULT_IOU_THR,
    workers: Optional[int] = None,
    inspect: Optional[Callable[[int, np.ndarray, np.ndarray], None]] = None
) -> List[RegionCounts]:
    """:func:`~.regions.image_region_counts` of every ``(pred_area, gt_area)``
    pair.

    Args:
        pairs (Sequence[tuple[np.ndarray, np.ndarray]]): the images' submission
            mask and GT mask, in evaluation order.
        area_ratio (float): predicted regions count above
            ``512 * 512 * area_ratio``. Defaults to 0.0006.
        gt_min_area (float): GT regions count above this contour area. Defaults
            to 150.0.
        iou_thr (float): IoU above which two regions match. Defaults to 0.1.
        workers (int, optional): Threads to use (see
            :func:`resolve_workers`); the result is the same for any value.
            Defaults to None.
        inspect (Callable, optional): Called as ``inspect(index, pred_area,
            gt_area)`` right before each pair is counted, on the thread that
            counts it: a check that reads the masks there costs little, since
            it brings them into the cache the counting then reads them from.
            It must be thread-safe. Defaults to None.

    Returns:
        list: one :class:`~.regions.RegionCounts` per pair, in order.
    """
    options = dict(
        area_ratio=area_ratio, gt_min_area=gt_min_area, iou_thr=iou_thr)

    def count(index: int) -> RegionCounts:
        pred, gt = pairs[index]
        if inspect is not None:
            inspect(index, pred, gt)
        return image_region_counts(pred, gt, **options)

    num_workers = resolve_workers(len(pairs), workers)
    if num_workers <= 1:
        return [count(index) for index in range(len(pairs))]
    num_chunks = min(len(pairs), num_workers * CHUNKS_PER_WORKER)
    edges = np.linspace(0, len(pairs), num_chunks + 1).round().astype(int)

    def count_chunk(bounds: Tuple[int, int]) -> List[RegionCounts]:
        return [count(index) for index in range(*bounds)]

    cv2_threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        with ThreadPoolExecutor(num_workers) as pool:
            parts = list(pool.map(count_chunk, zip(edges[:-1], edges[1:])))
    finally:
        cv2.setNumThreads(cv2_threads)
    return [counts for part in parts for counts in part]
