"""Region counts by several workers (forked processes or threads) are exactly
the serial ones, in order; errors and hook findings come back as from a serial
run."""
import os
import os.path as osp
import subprocess
import sys
import threading

import cv2
import numpy as np
import pytest

from struct_det.evaluation.functional import (available_cpus, can_fork,
                                              image_region_counts,
                                              parallel_counts, resolve_workers,
                                              score_submission,
                                              set_region_counts)


@pytest.fixture
def forking(monkeypatch):
    """Forked workers, even if an earlier test left a thread running (the
    scorer itself would fall back to threads then); skipped where the
    platform cannot fork."""
    if not parallel_counts.platform_forks():
        pytest.skip('no fork here')
    monkeypatch.setattr(parallel_counts, 'can_fork', lambda: True)


def _pairs(n, seed=0):
    rng = np.random.default_rng(seed)
    pairs = []
    for i in range(n):
        size = (640, 480) if i % 3 else (1024, 1024)
        pred = np.zeros(size, np.uint8)
        gt = np.zeros((512, 512), np.uint8)
        for mask in (pred, gt):
            for _ in range(int(rng.integers(0, 5))):
                centre = (int(rng.integers(0, mask.shape[1])),
                          int(rng.integers(0, mask.shape[0])))
                axes = (int(rng.integers(5, 80)), int(rng.integers(5, 80)))
                cv2.ellipse(mask, centre, axes, float(rng.uniform(0, 180)), 0,
                            360, 1, -1)
        pairs.append((pred, gt))
    return pairs


@pytest.fixture(params=['forked', 'threads'])
def worker_kind(request, monkeypatch):
    """Both kinds of workers: forked where this platform forks, and
    threads (what a process with other threads uses)."""
    if request.param == 'forked':
        request.getfixturevalue('forking')
    else:
        monkeypatch.setattr(parallel_counts, 'can_fork', lambda: False)
    return request.param


def test_workers_counts_equal_serial_counts_exactly(worker_kind):
    pairs = _pairs(37)
    serial = [image_region_counts(p, g) for p, g in pairs]
    assert any(c.num_pred and c.num_gt for c in serial)  # something to match
    for workers in (1, 2, 3):
        assert set_region_counts(pairs, workers=workers) == serial, workers
    options = dict(area_ratio=0.002, gt_min_area=400, iou_thr=0.3)
    assert set_region_counts(pairs, workers=2, **options) == \
        [image_region_counts(p, g, **options) for p, g in pairs]


class _Inspector:
    """Finds the odd-sized masks; raises on the images in ``bad``."""

    def __init__(self, bad=(), error=ValueError):
        self.bad, self.error = bad, error
        self.collected = None

    def __call__(self, index, pred_area, gt_area):
        if index in self.bad:
            raise self.error(f'image {index} is bad')
        return pred_area.shape if pred_area.shape[0] != 1024 else None

    def collect(self, findings):
        self.collected = findings


def test_findings_come_back_in_order_from_every_worker(worker_kind):
    pairs = _pairs(20)
    expected = {i: (640, 480) for i in range(20) if i % 3}
    for workers in (1, 2, 3):
        inspector = _Inspector()
        set_region_counts(pairs, workers=workers, inspect=inspector)
        assert inspector.collected == expected
        assert list(inspector.collected) == sorted(expected)


def test_the_lowest_failing_index_is_raised(worker_kind):
    # with 2 workers, 7 and 9 fail in one worker and 4 in the other: a
    # serial run stops at 4
    pairs = _pairs(12)
    for workers in (1, 2, 3):
        with pytest.raises(ValueError, match='^image 4 is bad$'):
            set_region_counts(
                pairs, workers=workers, inspect=_Inspector(bad={9, 7, 4}))
    inspector = _Inspector(bad={11})
    with pytest.raises(ValueError, match='image 11'):
        set_region_counts(pairs, workers=2, inspect=inspector)
    assert inspector.collected is None  # nothing collected on an error


class _Unpicklable(Exception):
    """An error whose instances do not pickle."""

    def __init__(self, message):
        super().__init__(message)
        self.handle = threading.Lock()


def test_a_forked_worker_s_unpicklable_error_arrives_as_its_text(forking):
    with pytest.raises(RuntimeError, match='^_Unpicklable: image 5 is bad$'):
        set_region_counts(
            _pairs(8),
            workers=2,
            inspect=_Inspector(bad={5}, error=_Unpicklable))


def _own_children():
    task = f'/proc/self/task/{threading.get_native_id()}/children'
    with open(task) as f:
        return f.read().split()


def test_a_dead_forked_worker_is_an_error_and_no_child_is_left(forking):
    parent = os.getpid()

    class DiesInTheChild(_Inspector):

        def __call__(self, index, pred_area, gt_area):
            if os.getpid() != parent:
                os._exit(3)
            return None

    before = _own_children()
    with pytest.raises(RuntimeError, match='ended without a result'):
        set_region_counts(_pairs(8), workers=2, inspect=DiesInTheChild())
    assert _own_children() == before
    with pytest.raises(ValueError, match='image 1'):
        set_region_counts(_pairs(8), workers=2, inspect=_Inspector(bad={1}))
    assert _own_children() == before


def test_a_process_with_other_threads_does_not_fork():
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    other.start()
    try:
        assert not can_fork()
        pairs = _pairs(10)
        assert set_region_counts(
            pairs, workers=2) == [image_region_counts(p, g) for p, g in pairs]
    finally:
        release.set()
        other.join()


def test_score_submission_is_the_same_on_a_pool():
    pairs = _pairs(30, seed=1)
    rng = np.random.default_rng(1)
    preds = {
        f'k{i}': {
            'score': float(rng.normal()),
            'pred_area': p
        }
        for i, (p, _) in enumerate(pairs)
    }
    gts = {
        f'k{i}': {
            'score': float(rng.integers(1, 6)),
            'pred_area': g
        }
        for i, (_, g) in enumerate(pairs)
    }
    assert score_submission(
        preds, gts, workers=2) == score_submission(
            preds, gts, workers=1)


def test_worker_count_resolution():
    # the default: one worker per core (at most 8) from 64 images on
    cores = min(available_cpus(), 8)
    assert resolve_workers(5000) == cores and resolve_workers(64) == cores
    assert resolve_workers(63) == 1 and resolve_workers(63, None) == 1
    assert resolve_workers(10, 0) == 1 and resolve_workers(10, 1) == 1
    assert resolve_workers(3, 8) == 3  # never more workers than images
    assert resolve_workers(5000, available_cpus()) == available_cpus()
    with pytest.raises(ValueError, match='workers'):
        resolve_workers(10, -1)


AFTER_THREADS = """
import sys
sys.path.insert(0, {repo!r})
import cv2
import numpy as np
from struct_det.evaluation.functional import (image_region_counts,
                                              set_region_counts)
cv2.setNumThreads(4)
big = np.zeros((2048, 2048), np.uint8)
big[100:900, 200:1500] = 1
for _ in range(3):
    cv2.resize(big, (512, 512))  # OpenCV's thread pool is running now
pairs = [(big, cv2.resize(big, (512, 512)))] * 8
one = image_region_counts(*pairs[0])
assert set_region_counts(pairs, workers=2) == [one] * 8
assert cv2.getNumThreads() == 4, cv2.getNumThreads()
print('ok')
"""


def test_pool_after_opencv_threads_ran_does_not_hang():
    """Workers run after OpenCV's own thread pool has run (a child that
    touches that pool hangs), and OpenCV gets its thread count back."""
    repo = osp.dirname(
        osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
    run = subprocess.run(
        [sys.executable, '-c',
         AFTER_THREADS.format(repo=repo)],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=240)
    assert run.returncode == 0 and 'ok' in run.stdout, run.stderr
