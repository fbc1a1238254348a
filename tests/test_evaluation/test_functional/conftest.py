"""Helpers shared by the ``score_submission`` tests of this directory."""
from typing import Callable, Optional

import numpy as np
import pytest

from struct_det.evaluation.functional import score_submission


@pytest.fixture
def assert_rejected() -> Callable[..., None]:
    """A check that ``score_submission`` refuses a submission.

    Returns:
        Callable[..., None]:
            ``check(record, match, key='img_a', gt_area=None)`` scores the
            submission ``{key: record}`` against the one-image GT ``img_a``
            (score 1, mask ``gt_area``, blank 512x512 by default) and asserts a
            ``ValueError`` whose message matches the regex ``match``.
    """

    def check(record: dict,
              match: str,
              key: str = 'img_a',
              gt_area: Optional[np.ndarray] = None) -> None:
        if gt_area is None:
            gt_area = np.zeros((512, 512), np.uint8)
        gts = {'img_a': {'score': 1.0, 'pred_area': gt_area}}
        with pytest.raises(ValueError, match=match):
            score_submission({key: record}, gts)

    return check
