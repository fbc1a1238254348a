import numpy as np
import pytest

from struct_det.visualization import (DISTORTION_COLOR, draw_structure_overlay,
                                      plot_score_scatter, tile_images)


def test_overlay_tints_only_the_mask_and_keeps_input():
    image = np.full((40, 60, 3), 100, np.uint8)
    mask = np.zeros((40, 60), np.uint8)
    mask[10:20, 30:50] = 1
    out = draw_structure_overlay(image, mask, alpha=0.5)
    assert out.shape == image.shape and out.dtype == np.uint8
    assert (image == 100).all()  # input untouched
    inside = out[14, 40].astype(int)
    expected = (100 * 0.5 + np.array(DISTORTION_COLOR) * 0.5).astype(int)
    assert np.abs(inside - expected).max() <= 1
    # far from mask and text-free rows stay
    assert (out[0:5, 0:20] == 100).all()


def test_overlay_draws_boxes_and_rejects_bad_shapes():
    image = np.zeros((50, 50, 3), np.uint8)
    out = draw_structure_overlay(
        image, boxes=np.array([[5, 25, 45, 45]]), box_scores=[0.9])
    assert (out[25, 5:45] == DISTORTION_COLOR).all()
    with pytest.raises(ValueError, match='mask shape'):
        draw_structure_overlay(image, np.zeros((10, 10)))
    with pytest.raises(ValueError, match='RGB'):
        draw_structure_overlay(np.zeros((5, 5)))


def test_tile_and_scatter(tmp_path):
    sheet = tile_images(
        [np.zeros((30, 60, 3), np.uint8)] * 5, columns=2, cell=32, pad=2)
    assert sheet.shape == (3 * 34 + 2, 2 * 34 + 2, 3)
    out = tmp_path / 'scatter.png'
    plot_score_scatter([1, 2, 3], [1.5, 2, 2.5], str(out), title='t')
    assert out.stat().st_size > 1000
    with pytest.raises(ValueError):
        plot_score_scatter([1, 2], [1], str(out))
