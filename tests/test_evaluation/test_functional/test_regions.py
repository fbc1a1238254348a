"""Region counting: the fast label/histogram path against the literal per-pair
scorer.
"""
import cv2
import numpy as np
import pytest

# isort: off
# yapf: disable
from struct_det.evaluation.functional import (
    MaskRegions, RegionCounts, gt_scorer_mask, image_region_counts,
    match_regions, pred_min_area, region_counts_array,
    region_counts_from_array, region_iou_matrix, summarize_region_counts,
    to_scorer_mask)
from struct_det.evaluation.functional import regions as regions_mod
# yapf: enable
# isort: on
from tests.test_evaluation.test_functional.scorer_reference import (
    binarize_prediction, image_counts)


def _ring_with_blobs(rng, size):
    """A ring (hole) with blobs inside the hole and touching /
    diagonal-touching squares.
    """
    m = np.zeros((size, size), np.uint8)
    c = (int(rng.integers(size // 4, 3 * size // 4)),
         int(rng.integers(size // 4, 3 * size // 4)))
    r = int(rng.integers(size // 10, size // 5))
    cv2.circle(m, c, r, 1, int(rng.integers(2, 8)))
    cv2.circle(m, c, max(r // 3, 2), 1, -1)  # a blob inside the hole
    x, y, s = int(rng.integers(0, size - 60)), int(rng.integers(
        0, size - 60)), int(rng.integers(5, 25))
    m[y:y + s, x:x + s] = 1
    # touches the first one at one corner only
    m[y + s:y + 2 * s, x + s:x + 2 * s] = 1
    m[y:y + s, x + s + 1:x + 2 * s + 1] = 1  # separated by one column
    return m


def _shapes(rng, size, n):
    m = np.zeros((size, size), np.uint8)
    for _ in range(n):
        kind = rng.integers(0, 3)
        x, y = (int(v) for v in rng.integers(0, size, 2))
        if kind == 0:
            axes = (int(rng.integers(2, size // 6)),
                    int(rng.integers(2, size // 6)))
            cv2.ellipse(m, (x, y), axes, float(rng.uniform(0, 180)), 0, 360, 1,
                        -1)
        elif kind == 1:
            w, h = (int(v) for v in rng.integers(1, size // 5, 2))
            # 0 cuts holes into earlier shapes
            m[y:y + h, x:x + w] = int(rng.integers(0, 2))
        else:
            pts = rng.integers(0, size,
                               (int(rng.integers(3, 7)), 2)).astype(np.int32)
            cv2.fillPoly(m, [pts], 1)
    return m


def _noise(rng, size):
    """Thresholded smooth noise: nested holes, islands inside holes, thin
    bridges.
    """
    small = rng.random((int(rng.integers(4, 10)), ) * 2).astype(np.float32)
    return (cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC)
            > rng.uniform(0.4, 0.7)).astype(np.uint8)


def _random_mask(rng):
    kind = rng.integers(0, 6)
    size = int(rng.choice([512, 512, 1024, 300]))
    if kind == 0:
        return np.zeros((size, size), np.uint8)
    if kind == 1:
        return _ring_with_blobs(rng, size)
    if kind == 2:
        return _noise(rng, size)
    m = _shapes(rng, size, int(rng.integers(1, 7)))
    # non-square inputs are stretched by the scorer
    if size != 512 and rng.random() < 0.5:
        m = np.ascontiguousarray(m[:, :size // 2 +
                                   int(rng.integers(0, size // 2))])
    return m


def _perturbed(rng, gt):
    """A prediction near a GT: shifted, dilated or eroded, plus spurious
    shapes.
    """
    m = np.roll(
        gt, tuple(int(v) for v in rng.integers(-15, 15, 2)), axis=(0, 1))
    op = rng.integers(0, 3)
    if op == 1:
        m = cv2.dilate(m, np.ones((7, 7), np.uint8))
    elif op == 2:
        m = cv2.erode(m, np.ones((5, 5), np.uint8))
    return np.maximum(
        m,
        _shapes(rng, gt.shape[0], int(rng.integers(0, 3)))[:, :gt.shape[1]])


def test_matches_reference_on_random_masks():
    rng = np.random.default_rng(20250226)
    checked = dict(regions=0, hits=0, empty=0, non512=0)
    for _ in range(500):
        gt_raw = _random_mask(rng)
        pred = _perturbed(rng,
                          gt_raw) if rng.random() < 0.7 else _random_mask(rng)
        # Half of the GTs at the stored 512x512, half at another size (resized
        # by our rule).
        gt = binarize_prediction(gt_raw) if rng.random() < 0.5 else gt_raw
        if rng.random() < 0.2:
            # a raw 0/255 map: every positive pixel counts
            pred = pred * np.uint8(255)
        ours = image_region_counts(pred, gt)
        ref = image_counts(pred, gt)
        assert (ours.num_pred, ours.num_pred_hit, ours.num_gt,
                ours.num_gt_missed) == ref[:4]
        assert ours.giou == ref[4]  # bit-identical
        checked['regions'] += ours.num_pred + ours.num_gt
        checked['hits'] += ours.num_pred_hit
        checked['empty'] += ours.num_pred == 0 or ours.num_gt == 0
        checked['non512'] += gt.shape != (512, 512) or pred.shape != (512, 512)
    # The random set really exercised the interesting cases.
    assert checked['regions'] > 1000 and checked['hits'] > 150
    assert checked['empty'] > 30 and checked['non512'] > 150


@pytest.mark.parametrize('option', [
    dict(area_ratio=0.0),
    dict(area_ratio=0.002),
    dict(gt_min_area=0),
    dict(gt_min_area=400),
    dict(iou_thr=0.0),
    dict(iou_thr=0.5)
])
def test_options_match_reference(option):
    rng = np.random.default_rng(7)
    for _ in range(12):
        gt = binarize_prediction(_random_mask(rng))
        pred = _perturbed(rng, gt)
        ours = image_region_counts(pred, gt, **option)
        ref = image_counts(pred, gt, **option)
        assert tuple(ours)[:5] == ref


def test_nested_and_touching_regions():
    m = np.zeros((512, 512), np.uint8)
    m[50:251, 50:251] = 1
    m[55:246, 55:246] = 0  # a frame: its hole is filled
    m[120:180, 120:180] = 1  # inside the hole: not a separate outer contour
    m[300:340, 300:340] = 1
    # diagonal neighbour of the previous square: one region
    m[340:380, 340:380] = 1
    m[300:340, 400:440] = 1
    m[300:340, 441:481] = 1  # one background column apart: two regions
    regions = MaskRegions(m, 150)
    assert len(regions) == 4
    # The frame's filled area covers its hole including the inner blob.
    assert sorted(regions.areas.tolist())[-1] == 201 * 201


def test_area_thresholds_are_strict():
    # contourArea of an n x n square is (n - 1)^2: 13x13 -> 144, 14x14 -> 169.
    m = np.zeros((512, 512), np.uint8)
    m[10:23, 10:23] = 1
    m[100:114, 100:114] = 1
    # 157.29: only the 14x14 one
    assert len(MaskRegions(m, pred_min_area())) == 1
    assert len(MaskRegions(m, 150.0)) == 1
    strip = np.zeros((512, 512), np.uint8)
    strip[10:21, 10:26] = 1  # 11 x 16 -> contourArea exactly 10 * 15 = 150
    assert len(MaskRegions(strip, 150.0)) == 0
    assert len(MaskRegions(strip, 149.5)) == 1
    ours = image_region_counts(m, strip)
    assert ours.num_pred == 1 and ours.num_gt == 0
    assert tuple(ours)[:5] == image_counts(m, strip)


def test_hand_computed_counts():
    gt = np.zeros((512, 512), np.uint8)
    gt[100:130, 100:130] = 1
    gt[100:130, 140:170] = 1
    pred = np.zeros((512, 512), np.uint8)
    # 80x80 covering both GT squares: IoU 900/6400 with each
    pred[95:175, 95:175] = 1
    pred[400:420, 400:420] = 1  # a false positive
    counts = image_region_counts(pred, gt)
    assert counts[:4] == (2, 1, 2, 0)
    assert counts.pixel_tp == 1800 and counts.pixel_fp == 6400 + 400 - 1800
    assert counts.pixel_fn == 0
    assert counts.giou == (1800 + 1e-4) / (6800 + 1e-4)


def test_iou_threshold_is_strict():
    gt = np.zeros((512, 512), np.uint8)
    gt[100:120, 100:120] = 1  # 400 px
    pred = np.zeros((512, 512), np.uint8)
    pred[100:120, 100:300] = 1  # 4000 px containing the GT: IoU exactly 0.1
    iou = region_iou_matrix(MaskRegions(pred, 150), MaskRegions(gt, 150))
    assert iou.shape == (1, 1) and iou[0, 0] == 0.1
    assert image_region_counts(pred, gt)[:4] == (1, 0, 1, 1)
    assert image_region_counts(pred, gt, iou_thr=0.09)[:4] == (1, 1, 1, 0)


def test_empty_masks():
    empty = np.zeros((512, 512), np.uint8)
    counts = image_region_counts(empty, empty)
    assert counts == RegionCounts(0, 0, 0, 0, 1.0, 0, 0, 0)
    summary = summarize_region_counts([counts])
    assert np.isnan(summary['precision']) and np.isnan(summary['recall'])
    assert np.isnan(summary['f1_score']) and summary['giou'] == 1.0


def _square_contour(x0, y0, x1, y1):
    return np.array([[[x0, y0]], [[x0, y1]], [[x1, y1]], [[x1, y0]]], np.int32)


def test_regions_are_drawn_one_by_one(monkeypatch):
    """Each region is drawn by itself like the scorer draws it, so even
    contours whose filled areas overlapped (outer contours of one mask never
    do) would count exactly."""
    a, b = _square_contour(10, 10, 30, 30), _square_contour(20, 20, 40, 40)
    mask = np.zeros((512, 512), np.uint8)
    mask[10:41, 10:41] = 1
    with monkeypatch.context() as patch:
        patch.setattr(regions_mod.cv2, 'findContours', lambda *args, **kw:
                      ((a, b), None))
        pred = MaskRegions(mask, 0)
    assert pred.areas.tolist() == [441, 441]
    assert pred.boxes.tolist() == [[10, 10, 31, 31], [20, 20, 41, 41]]
    gt_mask = np.zeros((512, 512), np.uint8)
    gt_mask[10:31, 10:31] = 1
    gt = MaskRegions(gt_mask, 0)
    # IoU(a, gt) = 1; IoU(b, gt) = 121 / (441 + 441 - 121).
    np.testing.assert_array_equal(
        region_iou_matrix(pred, gt), [[1.0], [121 / (441 + 441 - 121)]])
    assert match_regions(pred, gt)[:4] == (2, 2, 1, 0)


def test_regions_far_apart_are_never_drawn():
    pred_mask = np.zeros((512, 512), np.uint8)
    pred_mask[10:60, 10:60] = 1
    gt_mask = np.zeros((512, 512), np.uint8)
    gt_mask[300:360, 300:360] = 1
    gt_mask[20:50, 55:90] = 1
    pred, gt = MaskRegions(pred_mask, 150), MaskRegions(gt_mask, 150)
    ious = region_iou_matrix(pred, gt)
    assert ious.shape == (1, 2) and np.count_nonzero(ious) == 1
    # only the GT region whose box meets the prediction's
    assert len(gt._crops) == 1


def test_scorer_mask_conversion():
    heat = np.zeros((1024, 768), np.float32)
    heat[100:300, 50:200] = 0.3
    out = to_scorer_mask(heat)
    assert out.shape == (512, 512) and out.dtype == np.uint8 and set(
        np.unique(out)) == {0, 1}
    np.testing.assert_array_equal(out,
                                  binarize_prediction(heat).astype(np.uint8))
    # A single set pixel of a 2x downscale rounds away in cv2's fixed-point
    # bilinear.
    lone = np.zeros((1024, 1024), np.uint8)
    lone[11, 11] = 1
    assert to_scorer_mask(lone).sum() == 0
    assert to_scorer_mask(lone.astype(bool)).sum() == 0
    gt = np.zeros((512, 512), bool)
    gt[5, 5] = True
    assert gt_scorer_mask(gt).dtype == np.uint8 and gt_scorer_mask(
        gt).sum() == 1


def test_counts_pack_roundtrip():
    counts = [
        RegionCounts(3, 2, 4, 1, 0.25, 10, 20, 30),
        RegionCounts(0, 0, 0, 0, 1.0, 0, 0, 0)
    ]
    ints, gious = region_counts_array(counts)
    assert ints.shape == (2, 7) and ints.dtype == np.int64
    assert region_counts_from_array(ints, gious) == counts
    merged = summarize_region_counts(counts)
    assert merged['precision'] == 2 / 3 and merged['recall'] == 1 - 1 / 4
    assert merged['giou'] == (0.25 + 1.0) / 2
    assert merged['pixel_f1'] == 20 / (20 + 20 + 30)


def test_match_regions_rejects_size_mismatch():
    with pytest.raises(ValueError, match='differ in size'):
        match_regions(
            MaskRegions(np.zeros((512, 512), np.uint8), 0),
            MaskRegions(np.zeros((256, 256), np.uint8), 0))


@pytest.mark.parametrize(
    'dtype', [np.uint8, np.uint16, np.int16, np.float32, np.float64, bool])
def test_empty_masks_skip_the_resize_with_the_resize_s_result(dtype):
    shape = (1024, 768)
    empty = np.zeros(shape, dtype)
    if np.dtype(dtype).kind == 'f':
        empty[:10] = -0.0  # zero for the scorer's `> 0` too
    np.testing.assert_array_equal(
        to_scorer_mask(empty), np.zeros((512, 512), np.uint8))
    one = empty.copy()
    one[500:520, 300:330] = 1
    resized = cv2.resize(
        one.view(np.uint8) if dtype is bool else one, (512, 512))
    np.testing.assert_array_equal(
        to_scorer_mask(one), (resized > 0).astype(np.uint8))
    assert to_scorer_mask(one).sum() > 0


def _sparse_values(rng, size, rows):
    """uint8 mask of ``size`` x ``size``: random values (1s and larger) in a
    few rows, including single pixels and odd-row-only runs."""
    m = np.zeros((size, size), np.uint8)
    for row in rows:
        cols = rng.integers(0, size, int(rng.integers(1, 40)))
        m[row, cols] = rng.choice([1, 1, 2, 255], len(cols))
    return m


def test_a_2x_mask_s_foreground_rows_resize_to_the_whole_resize():
    """Only the rows from the first to the last non-zero one are resized for a
    1024x1024 uint8 mask; the result is the whole mask's resize, whatever the
    values and wherever the rows (the first, the last, an odd one alone)."""
    rng = np.random.default_rng(3)
    cases = [[0], [1023], [0, 1023], [511], [512], [1], [1022, 1023],
             list(rng.integers(0, 1024, 5))]
    cases += [
        list(rng.integers(0, 1024, int(rng.integers(1, 30))))
        for _ in range(40)
    ]
    for rows in cases:
        mask = _sparse_values(rng, 1024, rows)
        if rng.random() < 0.3:
            mask = cv2.dilate(mask, np.ones((3, 3), np.uint8))
        expected = (cv2.resize(mask, (512, 512)) > 0).astype(np.uint8)
        np.testing.assert_array_equal(to_scorer_mask(mask), expected)
        np.testing.assert_array_equal(
            to_scorer_mask(mask.astype(bool)),
            (cv2.resize(mask.astype(bool).view(np.uint8), (512, 512))
             > 0).astype(np.uint8))


def test_only_the_foreground_rows_are_resized(monkeypatch):
    mask = np.zeros((1024, 1024), np.uint8)
    mask[301:420, 10:900] = 1
    shapes = []
    resize = cv2.resize

    def recording(src, *args, **kwargs):
        shapes.append(src.shape)
        return resize(src, *args, **kwargs)

    monkeypatch.setattr(regions_mod.cv2, 'resize', recording)
    out = to_scorer_mask(mask)
    # output rows 150..209 (input rows 300..419): the pair holding row 301
    # starts at 300
    assert shapes == [(120, 1024)]
    assert out[:150].sum() == 0 and out[210:].sum() == 0
    assert out[150:210, 5:450].all()


def test_regions_of_a_row_band_are_the_whole_mask_s():
    """MaskRegions given the rows outside which the mask is 0 reads only those
    rows and finds the same contours, in the same order, as on the whole
    mask."""
    rng = np.random.default_rng(11)
    for _ in range(30):
        mask = binarize_prediction(_random_mask(rng))
        rows = np.flatnonzero(mask.any(axis=1))
        band = (int(rows[0]), int(rows[-1]) + 1) if rows.size else (0, 0)
        whole, part = MaskRegions(mask, 0), MaskRegions(mask, 0, rows=band)
        assert part.num_pixels == whole.num_pixels
        assert len(part.contours) == len(whole.contours)
        for a, b in zip(part.contours, whole.contours):
            np.testing.assert_array_equal(a, b)
        assert part.boxes.tolist() == whole.boxes.tolist()
    # a band that leaves foreground out is not read outside its rows
    mask = np.zeros((512, 512), np.uint8)
    mask[10:50, 10:50] = 1
    mask[300:340, 300:340] = 1
    assert len(MaskRegions(mask, 0, rows=(0, 100))) == 1
