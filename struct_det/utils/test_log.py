"""Runtime per image from an mmengine test log, for the submission readme.

Used by ``tools/make_submission.py --test-log``; imports only numpy.
"""
import re

import numpy as np

# ``Epoch(test) [n/N] ... time: t`` (``Iter(test)`` for iteration loops).
_TEST_LINE = re.compile(
    r'(?:Epoch|Iter)\(test\)\s*\[\s*(\d+)/(\d+)\].*?\btime: ([0-9.]+)')


def runtime_from_test_log(path: str, batch_size: int = 1) -> float:
    """Seconds per image from an mmengine test log.

    The summary line after the last iteration carries the mean time per
    iteration; without it the iteration lines are averaged.

    Args:
        path (str): The ``<timestamp>.log`` text log of ``tools/test.py``.
        batch_size (int): Images per test iteration. Defaults to 1.

    Returns:
        float: Mean seconds per image.

    Raises:
        ValueError: When the log has no test timing line.
    """
    summary, per_iter = None, []
    with open(path, 'r', encoding='utf-8', errors='replace') as f:
        for line in f:
            m = _TEST_LINE.search(line)
            if not m:
                continue
            done, total = int(m.group(1)), int(m.group(2))
            sec = float(m.group(3))
            per_iter.append(sec)
            if done == total:
                summary = sec
    if summary is None and not per_iter:
        raise ValueError(
            f'{path}: no "Epoch(test) [...] time: ..." line; pass --runtime')
    sec = summary if summary is not None else float(np.mean(per_iter))
    return sec / max(int(batch_size), 1)
