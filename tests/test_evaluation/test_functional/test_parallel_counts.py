"""Region counts on a thread pool are exactly the serial ones, in order."""
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest

from struct_det.evaluation.functional import (available_cpus,
                                              image_region_counts,
                                              resolve_workers,
                                              score_submission,
                                              set_region_counts)


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


def test_pool_counts_equal_serial_counts_exactly():
    pairs = _pairs(37)
    serial = [image_region_counts(p, g) for p, g in pairs]
    assert any(c.num_pred and c.num_gt for c in serial)  # something to match
    for workers in (1, 2, 3):
        assert set_region_counts(pairs, workers=workers) == serial, workers
    options = dict(area_ratio=0.002, gt_min_area=400, iou_thr=0.3)
    assert set_region_counts(pairs, workers=2, **options) == \
        [image_region_counts(p, g, **options) for p, g in pairs]


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
    # the default: one thread per core (at most 8) from 64 images on
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
    """The pool runs after OpenCV's own thread pool has run (a forked pool
    used to hang there), and OpenCV gets its thread count back."""
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
