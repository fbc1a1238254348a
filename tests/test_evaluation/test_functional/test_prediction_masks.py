"""Predicted masks from instances / heatmaps: the rule shared by the metric and
submissions.
"""
import numpy as np
import pytest
import torch

from struct_det.evaluation.functional.prediction_masks import (
    boxes_to_masks, heatmap_masks, instance_union_masks, union_mask)


def test_instance_unions_match_brute_force_for_unsorted_thresholds():
    rng = np.random.default_rng(0)
    masks = rng.random((7, 20, 30)) < 0.1
    scores = rng.random(7)
    thrs = [0.5, 0.1, 0.95, 0.3, 0.31]
    for as_tensor in (False, True):
        given = torch.as_tensor(masks) if as_tensor else masks
        out = instance_union_masks(
            torch.as_tensor(scores) if as_tensor else scores,
            thrs, (20, 30),
            masks=given)
        for thr, union in zip(thrs, out):
            expected = masks[scores >= thr].any(0) if (
                scores >= thr).any() else np.zeros((20, 30), bool)
            assert union.dtype == np.uint8
            np.testing.assert_array_equal(union, expected.astype(np.uint8))
    # thresholds keeping the same instances share one array
    out = instance_union_masks(
        np.array([0.9]), [0.1, 0.2, 0.95], (4, 4), masks=np.ones((1, 4, 4)))
    assert out[0] is out[1] and out[2] is not out[0] and not out[2].any()


def test_boxes_and_errors():
    boxes = np.array([[1.5, 0.2, 3.0, 2.0], [-5, -5, 100, 1]])
    masks = boxes_to_masks(boxes, (4, 6))
    expected = np.zeros((2, 4, 6), bool)
    expected[0, 0:2, 1:3] = True
    expected[1, 0:1, :] = True
    np.testing.assert_array_equal(masks, expected)
    out = instance_union_masks([0.8, 0.1], [0.5], (4, 6), boxes=boxes)[0]
    np.testing.assert_array_equal(out, expected[0].astype(np.uint8))
    with pytest.raises(ValueError, match='masks or boxes'):
        instance_union_masks([0.8], [0.5], (4, 6))
    with pytest.raises(ValueError, match=r'size \(5, 5\)'):
        instance_union_masks([0.8], [0.5], (4, 6), masks=np.ones((1, 5, 5)))


def test_heatmaps_and_unions():
    heat = torch.tensor([[[0.0, 0.3], [0.5, 1.0]]])
    low, high = heatmap_masks(heat, [0.3, 0.5])
    np.testing.assert_array_equal(low, [[0, 0], [1, 1]])  # value > thr
    np.testing.assert_array_equal(high, [[0, 0], [0, 1]])
    with pytest.raises(ValueError, match='heatmap'):
        heatmap_masks(np.zeros((2, 3, 3)), [0.5])
    assert union_mask(torch.zeros((0, 3, 5)), (0, 0)).shape == (3, 5)
    assert union_mask(None, (2, 2)).tolist() == [[0, 0], [0, 0]]
    np.testing.assert_array_equal(
        union_mask(np.array([[[1, 0]], [[0, 2]]]), (1, 2)), [[1, 1]])
