"""Region counts of a whole set of images, by one worker or several.

Each image's counts depend on that image alone, so the images split among
workers: worker ``w`` of ``n`` counts images ``w, w + n, w + 2n, ...``
(interleaved, so that a set ordered by difficulty still splits evenly), and
the counts come back in the set's order, exactly the serial ones (the same
function runs on the same arrays).

Several workers are processes forked from this one, which waits for them.
They read the masks where they lie (the pages of a mapped ``output.pkl`` are
shared, not copied) and send back only the counts and the findings of an
``inspect`` hook, pickled through a pipe. A fork is only safe while no other
thread runs, so a process with other Python threads (or without ``fork``)
uses threads as workers instead: the counting is OpenCV and numpy calls that
release the GIL, but the Python between them holds it. OpenCV runs
single-threaded while several workers exist (its own thread pool would
oversubscribe the cores, and a forked child cannot use it) and gets its
thread count back afterwards.

Where the memory goes matters as much as the cores: the counting allocates
and frees 512x512 buffers for every image, and glibc's main heap (the main
thread's) hands such blocks back to the system and faults them in again each
time, ~95 page faults per image. A forked worker keeps what it frees
(``mallopt``; it exits when done), and one worker runs on a thread of its
own, whose heap keeps its blocks. On the 999-image benchmark
(``benchmarks/structure_score_speed.py``, 2 cores, files loaded, one host;
another read about twice these): 2 forked workers 0.14-0.16 s, 2 threads
0.16-0.21 s, one worker thread 0.21 s, one worker in the main thread 0.37 s.

By default a set of at least :data:`AUTO_MIN_IMAGES` images is counted by
one worker per core.
"""
import os
import pickle
import signal
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import (Any, Callable, Dict, List, NamedTuple, Optional, Protocol,
                    Sequence, Tuple)

import cv2
import numpy as np

from .regions import (DEFAULT_AREA_RATIO, DEFAULT_GT_MIN_AREA, DEFAULT_IOU_THR,
                      RegionCounts, image_region_counts)

# The default (workers=None) uses one worker per core up to MAX_AUTO_WORKERS
# from this many images on (a challenge split has ~1000; a small set is
# counted before a fork pays for itself).
AUTO_MIN_IMAGES = 64
MAX_AUTO_WORKERS = 8
# glibc's mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


class PairInspector(Protocol):
    """What ``set_region_counts(inspect=...)`` takes: a check run on each pair
    right before it is counted, in the worker that counts it (reading the
    masks there costs little: the counting then reads them from the cache).
    """

    def __call__(self, index: int, pred_area: np.ndarray,
                 gt_area: np.ndarray) -> Any:
        """Looks at pair ``index``; returns a picklable finding or None.

        Raising stops the counting: the error of the lowest such index is
        raised, as a serial run raises it.
        """

    def collect(self, findings: Dict[int, Any]) -> None:
        """Receives the non-None findings by index, in the calling process,
        once every pair is counted.
        """


class _Part(NamedTuple):
    """What one worker sends back: its counts (plain tuples, in its index
    order), its findings, and its first error as ``(index, error)``."""
    counts: List[tuple]
    findings: Dict[int, Any]
    error: Optional[Tuple[int, BaseException]]


def available_cpus() -> int:
    """CPU cores this process may run on."""
    if hasattr(os, 'sched_getaffinity'):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def resolve_workers(num_images: int, workers: Optional[int] = None) -> int:
    """How many workers count a set of ``num_images`` images.

    Args:
        num_images (int): Images in the set.
        workers (int, optional): None for the default: one worker per core
            (at most :data:`MAX_AUTO_WORKERS`) for sets of at least
            :data:`AUTO_MIN_IMAGES` images, else serial; 0 or 1 for serial;
            N for N workers. Defaults to None.

    Returns:
        int: 1 for serial counting, else the number of workers, this process
            included (never more than the images).

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


def platform_forks() -> bool:
    """Whether this platform forks safely: ``fork`` exists and is the
    platform's safe default (not macOS)."""
    return hasattr(os, 'fork') and sys.platform != 'darwin'


def can_fork() -> bool:
    """Whether the workers can be forked processes now: the platform forks
    (:func:`platform_forks`) and this process runs no other Python thread
    (a lock another thread holds at the fork stays held in the child).
    """
    return platform_forks() and threading.active_count() == 1


def set_region_counts(
        pairs: Sequence[Tuple[np.ndarray, np.ndarray]],
        *,
        area_ratio: float = DEFAULT_AREA_RATIO,
        gt_min_area: float = DEFAULT_GT_MIN_AREA,
        iou_thr: float = DEFAULT_IOU_THR,
        workers: Optional[int] = None,
        inspect: Optional[PairInspector] = None) -> List[RegionCounts]:
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
        workers (int, optional): Workers to use (see :func:`resolve_workers`);
            the result is the same for any value. Defaults to None.
        inspect (PairInspector, optional): Called as ``inspect(index,
            pred_area, gt_area)`` right before each pair is counted, in the
            worker that counts it; its findings reach ``inspect.collect`` in
            this process at the end (see :class:`PairInspector`). Defaults to
            None.

    Returns:
        list: one :class:`~.regions.RegionCounts` per pair, in order.

    Raises:
        Exception: The first error (by pair index) of the counting or of
            ``inspect``, as a serial run raises it.
    """
    options = dict(
        area_ratio=area_ratio, gt_min_area=gt_min_area, iou_thr=iou_thr)
    num_workers = resolve_workers(len(pairs), workers)

    def count_part(worker: int) -> _Part:
        counts: List[tuple] = []
        findings: Dict[int, Any] = {}
        for index in range(worker, len(pairs), num_workers):
            pred, gt = pairs[index]
            try:
                if inspect is not None:
                    finding = inspect(index, pred, gt)
                    if finding is not None:
                        findings[index] = finding
                counts.append(tuple(image_region_counts(pred, gt, **options)))
            except Exception as err:  # the worker stops at its first error
                return _Part(counts, findings, (index, err))
        return _Part(counts, findings, None)

    if num_workers == 1:
        # on a thread of its own, whose heap keeps its buffers (see above)
        parts = _run_threaded(count_part, 1)
    else:
        cv2_threads = cv2.getNumThreads()
        # Before any fork: a child must not inherit OpenCV's running pool.
        cv2.setNumThreads(1)
        try:
            run = _run_forked if can_fork() else _run_threaded
            parts = run(count_part, num_workers)
        finally:
            cv2.setNumThreads(cv2_threads)
    errors = [part.error for part in parts if part.error is not None]
    if errors:
        raise min(errors, key=lambda error: error[0])[1]
    merged: List[Any] = [None] * len(pairs)
    findings: Dict[int, Any] = {}
    for worker, part in enumerate(parts):
        merged[worker::num_workers] = [RegionCounts(*c) for c in part.counts]
        findings.update(part.findings)
    if inspect is not None:
        inspect.collect(dict(sorted(findings.items())))
    return merged


def _run_threaded(count_part: Callable[[int], _Part],
                  num_workers: int) -> List[_Part]:
    """Every worker's part, each on a thread of its own."""
    with ThreadPoolExecutor(num_workers) as pool:
        return list(pool.map(count_part, range(num_workers)))


def _run_forked(count_part: Callable[[int], _Part],
                num_workers: int) -> List[_Part]:
    """Every worker's part, each in a forked child; this process waits."""
    mallopt = _libc_mallopt()
    children: List[Tuple[int, int]] = []
    try:
        for worker in range(num_workers):
            children.append(_fork(count_part, worker, mallopt))
        parts = []
        while children:
            pid, read_fd = children[0]
            with os.fdopen(read_fd, 'rb') as pipe:
                data = pipe.read()
            children.pop(0)
            _, status = os.waitpid(pid, 0)
            if not data:
                raise RuntimeError(
                    f'a region-counting worker (pid {pid}) ended without a '
                    f'result (wait status {status}); count serially with '
                    'workers=1 to see the failure')
            parts.append(pickle.loads(data))
        return parts
    finally:  # on an error here: no child outlives the call
        for pid, read_fd in children:
            os.close(read_fd)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(pid, 0)


def _libc_mallopt() -> Optional[Callable[[int, int], int]]:
    """glibc's ``mallopt``, or None (another C library, or no ctypes)."""
    try:
        import ctypes
        return ctypes.CDLL(None).mallopt
    except (ImportError, OSError, AttributeError):
        return None


def _fork(count_part: Callable[[int], _Part], worker: int,
          mallopt: Optional[Callable[[int, int], int]]) -> Tuple[int, int]:
    """Forks a child that counts ``worker``'s part and writes it, pickled, to a
    pipe; returns ``(pid, read end)``.

    The child keeps the memory it frees (``mallopt``, see the module's
    notes: 0.22 s with glibc's defaults on the 999-image benchmark, 0.14-0.16 s
    without); it exits when done, so this changes nothing for the caller.
    """
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid:
        os.close(write_fd)
        return pid, read_fd
    status = 1
    try:  # the child: never returns into the caller's code
        os.close(read_fd)
        if mallopt is not None:
            mallopt(_M_TRIM_THRESHOLD, 1 << 30)
            mallopt(_M_MMAP_THRESHOLD, 32 << 20)
        part = count_part(worker)
        try:
            data = pickle.dumps(part, pickle.HIGHEST_PROTOCOL)
        except Exception:  # an error that does not pickle: its text does
            index, err = part.error
            data = pickle.dumps(
                part._replace(
                    error=(index,
                           RuntimeError(f'{type(err).__name__}: {err}'))))
        with os.fdopen(write_fd, 'wb') as pipe:
            pipe.write(data)
        status = 0
    finally:
        os._exit(status)
