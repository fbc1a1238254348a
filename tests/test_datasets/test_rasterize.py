"""Rasterisation rules of EvalMuse-Structure regions (spec section 1).

Expected masks are written out by hand; random cases are checked against
independent references (full-canvas drawing, scipy.ndimage.label).
"""
import json

import cv2
import numpy as np
import pycocotools.mask as mask_utils
import pytest
from scipy import ndimage

from struct_det.datasets.rasterize import (Region, RegionError,
                                           annotator_count_map, annotator_mask,
                                           consensus_instances, consensus_mask,
                                           mask_to_instances, parse_bbox_info,
                                           parse_coordinate, parse_region,
                                           region_mask)


def rect(x1, y1, x2, y2):
    return {'bbox_type': 1, 'bbox': [{'x': x1, 'y': y1}, {'x': x2, 'y': y2}]}


def poly(*points):
    return {'bbox_type': 2, 'bbox': [list(p) for p in points]}


def box_mask(h, w, x1, y1, x2, y2):
    m = np.zeros((h, w), np.uint8)
    m[y1:y2, x1:x2] = 1
    return m


# ------------------------------------------------------------- rectangles
def test_rectangle_is_end_exclusive():
    m = region_mask(rect(2, 3, 5, 7), 10, 10)
    assert m.dtype == np.uint8 and m.shape == (10, 10)
    expected = np.zeros((10, 10), np.uint8)
    expected[3:7, 2:5] = 1  # columns 2,3,4 and rows 3..6
    np.testing.assert_array_equal(m, expected)
    assert m.sum() == 12 and m[7, 4] == 0 and m[6, 5] == 0


@pytest.mark.parametrize(
    'corners',
    [
        ((5, 7), (2, 3)),  # bottom-right first
        ((5, 3), (2, 7)),  # top-right, bottom-left
        ((2, 7), (5, 3)),  # bottom-left, top-right
    ])
def test_reversed_rectangle_corners_are_normalised(corners):
    (xa, ya), (xb, yb) = corners
    np.testing.assert_array_equal(
        region_mask(rect(xa, ya, xb, yb), 10, 10),
        box_mask(10, 10, 2, 3, 5, 7))


def test_rectangle_clipped_to_image():
    np.testing.assert_array_equal(
        region_mask(rect(-5, -4, 3, 2), 6, 8), box_mask(6, 8, 0, 0, 3, 2))
    np.testing.assert_array_equal(
        region_mask(rect(6, 4, 100, 50), 6, 8), box_mask(6, 8, 6, 4, 8, 6))
    assert region_mask(rect(20, 20, 30, 30), 6, 8).sum() == 0
    assert region_mask(rect(-9, -9, -1, -1), 6, 8).sum() == 0


def test_degenerate_rectangle_has_no_area():
    assert region_mask(rect(3, 1, 3, 5), 8, 8).sum() == 0
    assert region_mask(rect(1, 4, 6, 4), 8, 8).sum() == 0


def test_float_coordinates_round_half_up():
    # 1.5 -> 2, 2.49 -> 2, 4.5 -> 5, 6.5 -> 7
    np.testing.assert_array_equal(
        region_mask(rect(1.5, 2.49, 4.5, 6.5), 10, 10),
        box_mask(10, 10, 2, 2, 5, 7))
    assert parse_coordinate(-0.5) == 0 and parse_coordinate(-0.51) == -1
    assert parse_coordinate(np.int64(7)) == 7
    assert parse_coordinate(np.float32(2.5)) == 3
    assert isinstance(parse_coordinate(np.int16(3)), int)


@pytest.mark.parametrize('bad', [
    'a', '3', None, True, False, [1], {
        'v': 1
    },
    float('nan'),
    float('inf'), -float('inf'), np.nan, 1e30
])
def test_bad_coordinates_are_reported(bad):
    with pytest.raises(RegionError) as e:
        region_mask(rect(1, 1, bad, 4), 8, 8)
    assert e.value.problem == 'bad_coordinate'
    assert 'corner 1, x' in str(e.value)
    with pytest.raises(RegionError) as e:
        region_mask(poly((0, 0), (4, bad), (0, 4)), 8, 8)
    assert e.value.problem == 'bad_coordinate'
    assert 'vertex 1, y' in str(e.value)


# --------------------------------------------------------------- polygons
def test_polygon_filled_like_fillpoly_with_boundary():
    # A right triangle: row y covers x = 0 .. 4 - y (boundary included).
    expected = np.array(
        [[1, 1, 1, 1, 1, 0], [1, 1, 1, 1, 0, 0], [1, 1, 1, 0, 0, 0],
         [1, 1, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0]], np.uint8)
    np.testing.assert_array_equal(
        region_mask(poly((0, 0), (4, 0), (0, 4)), 6, 6), expected)
    # A polygon square includes its far edges, unlike the rectangle rule.
    np.testing.assert_array_equal(
        region_mask(poly((1, 1), (4, 1), (4, 3), (1, 3)), 6, 6),
        box_mask(6, 6, 1, 1, 5, 4))
    np.testing.assert_array_equal(
        region_mask(rect(1, 1, 4, 3), 6, 6), box_mask(6, 6, 1, 1, 4, 3))


def test_polygon_vertex_order_does_not_matter():
    a = region_mask(poly((1, 1), (6, 2), (5, 6), (2, 5)), 8, 8)
    b = region_mask(poly((2, 5), (5, 6), (6, 2), (1, 1)), 8, 8)
    np.testing.assert_array_equal(a, b)
    assert a.sum() > 0


@pytest.mark.parametrize('points', [[], [(3, 3)], [(1, 1), (6, 6)]])
def test_polygon_with_fewer_than_three_points_has_no_area(points):
    assert region_mask(poly(*points), 8, 8).sum() == 0
    # ... although cv2.fillPoly would draw a line for two points
    if len(points) == 2:
        ref = np.zeros((8, 8), np.uint8)
        cv2.fillPoly(ref, [np.array(points, np.int32).reshape(-1, 1, 2)], 1)
        assert ref.sum() > 0


def test_polygon_clipped_to_image_and_float_vertices_rounded():
    # A square from (-3,-3) to (2.5,2.4): rounds to (3, 2) -> rows 0..2,
    # columns 0..3 inside the image.
    m = region_mask(poly((-3, -3), (2.5, -3), (2.5, 2.4), (-3, 2.4)), 6, 6)
    np.testing.assert_array_equal(m, box_mask(6, 6, 0, 0, 4, 3))


def test_polygon_far_outside_is_handled():
    big = 1 << 20
    m = region_mask(poly((-big, -big), (3, -big), (3, 2), (-big, 2)), 6, 6)
    np.testing.assert_array_equal(m, box_mask(6, 6, 0, 0, 4, 3))
    assert region_mask(poly((50, 50), (60, 50), (55, 60)), 6, 6).sum() == 0


# ----------------------------------------------------- structure / types
@pytest.mark.parametrize('bbox_type', [0, 3, '1', 1.0, True, None])
def test_unknown_bbox_type(bbox_type):
    with pytest.raises(RegionError) as e:
        parse_region({'bbox_type': bbox_type, 'bbox': []}, 'annotator 1')
    assert e.value.problem == 'unknown_bbox_type'
    assert 'annotator 1' in str(e.value) and repr(bbox_type) in str(e.value)


@pytest.mark.parametrize('region, text', [
    ([1, 2], 'expected a dict'),
    ({
        'bbox': []
    }, 'bbox_type'),
    ({
        'bbox_type': 1
    }, '"bbox"'),
    ({
        'bbox_type': 1,
        'bbox': 'x'
    }, 'must be a list'),
    ({
        'bbox_type': 1,
        'bbox': [{
            'x': 1,
            'y': 1
        }]
    }, 'exactly 2'),
    ({
        'bbox_type': 1,
        'bbox': [{
            'x': 1,
            'y': 1
        }] * 3
    }, 'exactly 2'),
    ({
        'bbox_type': 1,
        'bbox': [{
            'x': 1
        }, {
            'x': 2,
            'y': 2
        }]
    }, 'corner 0'),
    ({
        'bbox_type': 1,
        'bbox': [[1, 1], [2, 2]]
    }, 'corner 0'),
    ({
        'bbox_type': 2,
        'bbox': [[1, 1], [2, 2, 2], [3, 1]]
    }, 'vertex 1'),
    ({
        'bbox_type': 2,
        'bbox': [[1, 1], 'ab', [3, 1]]
    }, 'vertex 1'),
])
def test_malformed_regions(region, text):
    with pytest.raises(RegionError) as e:
        parse_region(region)
    assert e.value.problem == 'malformed' and text in str(e.value)


def test_malformed_bbox_info_names_annotator_and_region():
    with pytest.raises(RegionError, match='bbox_info'):
        parse_bbox_info({'a': 1})
    with pytest.raises(RegionError, match='annotator 1'):
        parse_bbox_info([[], None])
    with pytest.raises(RegionError, match='annotator 2, region 1') as e:
        parse_bbox_info([[], [], [rect(0, 0, 1, 1), rect(0, 0, 'x', 1)]])
    assert e.value.problem == 'bad_coordinate'


def test_parse_region_returns_normalised_rectangle():
    r = parse_region(rect(9, 2, 3, 8))
    assert isinstance(r, Region) and r.bbox_type == 1
    assert r.points.tolist() == [[3, 2], [9, 8]]


# ------------------------------------------------------------- consensus
def test_annotator_mask_is_union():
    m = annotator_mask([rect(0, 0, 4, 4), rect(2, 2, 6, 6)], 8, 8)
    expected = box_mask(8, 8, 0, 0, 4, 4) | box_mask(8, 8, 2, 2, 6, 6)
    np.testing.assert_array_equal(m, expected)
    assert m.max() == 1  # the overlap is not counted twice


def test_consensus_counts_each_annotator_once():
    h, w = 10, 12
    bbox_info = [
        # annotator 0 draws two overlapping boxes: counts once
        [rect(0, 0, 6, 6), rect(1, 1, 6, 6)],
        [rect(4, 4, 10, 8)],
        [],
    ]
    a0 = box_mask(h, w, 0, 0, 6, 6)
    a1 = box_mask(h, w, 4, 4, 10, 8)
    counts = annotator_count_map(bbox_info, h, w)
    np.testing.assert_array_equal(counts, a0.astype(int) + a1)
    np.testing.assert_array_equal(
        consensus_mask(bbox_info, h, w, min_annotators=1), a0 | a1)
    np.testing.assert_array_equal(consensus_mask(bbox_info, h, w),
                                  a0 & a1)  # default K = 2
    # rows 4,5 and columns 4,5 are the overlap
    assert consensus_mask(bbox_info, h, w).sum() == 4
    assert consensus_mask(bbox_info, h, w, min_annotators=3).sum() == 0


def test_consensus_k3_with_three_annotators_and_polygons():
    bbox_info = [[rect(0, 0, 5, 5)], [poly((2, 2), (7, 2), (7, 7), (2, 7))],
                 [rect(3, 3, 8, 8)]]
    k3 = consensus_mask(bbox_info, 9, 9, min_annotators=3)
    np.testing.assert_array_equal(k3, box_mask(9, 9, 3, 3, 5, 5))


def test_consensus_any_number_of_annotators():
    bbox_info = [[rect(0, 0, 4, 4)]] * 5 + [[]] * 2
    assert annotator_count_map(bbox_info, 6, 6).max() == 5
    assert consensus_mask(bbox_info, 6, 6, 5).sum() == 16
    assert consensus_mask(bbox_info, 6, 6, 6).sum() == 0
    assert consensus_mask([], 6, 6).sum() == 0
    assert consensus_mask([[], [], []], 6, 6, 1).sum() == 0


@pytest.mark.parametrize('k', [0, -1, 1.5, True, '2'])
def test_consensus_rejects_bad_k(k):
    with pytest.raises(ValueError, match='min_annotators'):
        consensus_mask([], 4, 4, min_annotators=k)


def _naive_count_map(bbox_info, h, w):
    """Reference: every region drawn on the full canvas, no cropping."""
    counts = np.zeros((h, w), int)
    for regions in bbox_info:
        m = np.zeros((h, w), np.uint8)
        for r in regions:
            pts = np.array(r['bbox'] if r['bbox_type'] ==
                           2 else [[p['x'], p['y']] for p in r['bbox']])
            if r['bbox_type'] == 1:
                x1, y1 = np.clip(pts.min(0), 0, None)
                x2, y2 = pts.max(0)
                m[y1:max(y2, 0), x1:max(x2, 0)] = 1
            elif len(pts) >= 3:
                cv2.fillPoly(m, [pts.astype(np.int32).reshape(-1, 1, 2)], 1)
        counts += m
    return counts


def test_count_map_matches_full_canvas_reference():
    rng = np.random.default_rng(0)
    for _ in range(60):
        h, w = rng.integers(5, 40, 2)
        bbox_info = []
        for _a in range(rng.integers(0, 5)):
            regions = []
            for _r in range(rng.integers(0, 4)):
                if rng.random() < 0.5:
                    x = rng.integers(-10, w + 10, 2)
                    y = rng.integers(-10, h + 10, 2)
                    regions.append(
                        rect(int(x[0]), int(y[0]), int(x[1]), int(y[1])))
                else:
                    n = int(rng.integers(0, 7))
                    regions.append(
                        poly(*[(int(rng.integers(-10, w + 10)),
                                int(rng.integers(-10, h + 10)))
                               for _ in range(n)]))
            bbox_info.append(regions)
        np.testing.assert_array_equal(
            annotator_count_map(bbox_info, h, w),
            _naive_count_map(bbox_info, h, w))


# ------------------------------------------------------------- instances
def decode(seg):
    return mask_utils.decode({
        'size': seg['size'],
        'counts': seg['counts'].encode()
    })


def test_diagonal_touch_is_one_instance():
    m = np.zeros((8, 8), np.uint8)
    m[1:3, 1:3] = 1
    m[3:5, 3:5] = 1  # touches the first square only at a corner
    inst = mask_to_instances(m)
    assert len(inst) == 1
    assert inst[0]['bbox'] == [1, 1, 4, 4] and inst[0]['area'] == 8
    m[3:5, 3:5] = 0
    m[4:6, 4:6] = 1  # one pixel gap: two instances
    inst = mask_to_instances(m)
    assert sorted((d['bbox'], d['area']) for d in inst) == [([1, 1, 2, 2], 4),
                                                            ([4, 4, 2, 2], 4)]


def test_instances_of_known_mask():
    m = np.zeros((6, 9), np.uint8)
    m[0:6, 2:4] = 1  # full-height columns: one RLE run across columns
    m[1, 7] = 1
    inst = mask_to_instances(m)
    assert sorted((d['bbox'], d['area']) for d in inst) == [([2, 0, 2, 6], 12),
                                                            ([7, 1, 1, 1], 1)]
    for d in inst:
        assert d['segmentation']['size'] == [6, 9]
        assert isinstance(d['segmentation']['counts'], str)
        assert mask_utils.area({
            'size': [6, 9],
            'counts': d['segmentation']['counts'].encode()
        }) == d['area']
    json.dumps(inst)  # JSON ready


def test_empty_and_full_masks():
    assert mask_to_instances(np.zeros((5, 7), np.uint8)) == []
    inst = mask_to_instances(np.ones((5, 7), bool))
    assert len(inst) == 1 and inst[0]['bbox'] == [0, 0, 7, 5]
    assert inst[0]['area'] == 35
    np.testing.assert_array_equal(
        decode(inst[0]['segmentation']), np.ones((5, 7)))
    with pytest.raises(ValueError, match='2-D'):
        mask_to_instances(np.zeros((1, 5, 7)))


def test_instances_union_equals_mask_and_rle_round_trips():
    rng = np.random.default_rng(1)
    for i in range(150):
        h, w = rng.integers(1, 50, 2)
        m = rng.random((h, w)) < rng.random()
        if i % 3 == 0:
            m = ndimage.binary_dilation(m, iterations=2)
        m = m.astype(np.uint8) * (255 if i % 2 else 1)
        inst = mask_to_instances(m)
        labels, num = ndimage.label(m, structure=np.ones((3, 3)))
        assert len(inst) == num
        union = np.zeros((h, w), np.uint8)
        for d in inst:
            dm = decode(d['segmentation'])
            ys, xs = np.nonzero(dm)
            # each instance is exactly one 8-connected component
            lab = labels[ys[0], xs[0]]
            np.testing.assert_array_equal(dm, labels == lab)
            assert d['area'] == dm.sum()
            assert d['bbox'] == [
                xs.min(),
                ys.min(),
                xs.max() - xs.min() + 1,
                ys.max() - ys.min() + 1
            ]
            assert not (union & dm).any()
            union |= dm
        np.testing.assert_array_equal(union, m != 0)


def _pycocotools_instances(mask):
    """Reference: one full-size mask per 8-connected component through
    ``pycocotools.mask.encode/area/toBbox``."""
    labels, num = ndimage.label(mask, structure=np.ones((3, 3)))
    instances = []
    for i in range(1, num + 1):
        rle = mask_utils.encode(np.asfortranarray(labels == i, dtype=np.uint8))
        instances.append({
            'segmentation': {
                'size': list(mask.shape),
                'counts': rle['counts'].decode('ascii')
            },
            'bbox': [int(v) for v in mask_utils.toBbox(rle)],
            'area': int(mask_utils.area(rle)),
        })
    return instances


def test_rle_equals_pycocotools_and_round_trips():
    rng = np.random.default_rng(3)
    for i in range(200):
        h, w = (int(v) for v in rng.integers(1, 40, 2))
        m = rng.random((h, w)) < rng.random()
        if i % 4 == 0:  # the last (bottom-right) pixel in the foreground
            m[-1, -1] = True
        elif i % 4 == 1:  # the first one
            m[0, 0] = True
        inst = mask_to_instances(m)
        # same instances; the order is OpenCV's labelling order
        assert sorted(
            inst, key=repr) == sorted(
                _pycocotools_instances(m), key=repr)
        union = np.zeros((h, w), np.uint8)
        for d in inst:
            union |= decode(d['segmentation'])
        np.testing.assert_array_equal(union, m)


def test_consensus_instances_end_to_end():
    bbox_info = [[rect(10, 10, 30, 20),
                  poly((40, 5), (60, 5), (60, 25))],
                 [rect(12, 8, 28, 25),
                  rect(35, 0, 64, 30)], []]
    mask = consensus_mask(bbox_info, 32, 64)
    inst = mask_to_instances(mask)
    assert len(inst) == 2
    union = np.zeros_like(mask)
    for d in inst:
        union |= decode(d['segmentation'])
    np.testing.assert_array_equal(union, mask)
    rect_inst = min(inst, key=lambda d: d['bbox'][0])
    assert rect_inst['bbox'] == [12, 10, 16, 10]  # x 12..27, y 10..19


def test_consensus_instances_equal_full_mask_path():
    rng = np.random.default_rng(2)
    for _ in range(80):
        h, w = (int(v) for v in rng.integers(8, 60, 2))
        bbox_info = []
        for _a in range(3):
            regions = []
            for _r in range(rng.integers(0, 4)):
                x = rng.integers(-5, w + 5, 2)
                y = rng.integers(-5, h + 5, 2)
                if rng.random() < 0.6:
                    regions.append(
                        rect(int(x[0]), int(y[0]), int(x[1]), int(y[1])))
                else:
                    regions.append(
                        poly((int(x[0]), int(y[0])), (int(x[1]), int(y[0])),
                             (int(x[1]), int(y[1]))))
            bbox_info.append(regions)
        for k in (1, 2, 3):
            fast = consensus_instances(bbox_info, h, w, k)
            slow = mask_to_instances(consensus_mask(bbox_info, h, w, k))
            assert fast == slow
    assert consensus_instances([[], []], 5, 5) == []
    with pytest.raises(ValueError, match='min_annotators'):
        consensus_instances([], 5, 5, 0)
