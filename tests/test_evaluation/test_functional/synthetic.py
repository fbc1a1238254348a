"""Random masks the ``score_submission`` tests score: test data only, which
neither the reference scorer nor the package uses.
"""
from typing import Tuple

import cv2
import numpy as np


def ellipses(rng: np.random.Generator, shape: Tuple[int, int], n: int,
             min_axis: int, axis_divisor: int) -> np.ndarray:
    """A uint8 mask of ``n`` filled ellipses (value 1) at random places.

    Args:
        rng (np.random.Generator): Draws, per ellipse, the centre (x, then
            y), the two semi-axes and the angle.
        shape (tuple[int, int]): ``(H, W)`` of the mask.
        n (int): Number of ellipses.
        min_axis (int): Smallest semi-axis in pixels.
        axis_divisor (int): A semi-axis stays below the mask's side (width
            for the first, height for the second) divided by this.

    Returns:
        np.ndarray: The ``(H, W)`` mask.
    """
    h, w = shape
    mask = np.zeros((h, w), np.uint8)
    for _ in range(n):
        centre = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        axes = (int(rng.integers(min_axis, w // axis_divisor)),
                int(rng.integers(min_axis, h // axis_divisor)))
        cv2.ellipse(mask, centre, axes, float(rng.uniform(0, 180)), 0, 360, 1,
                    -1)
    return mask
