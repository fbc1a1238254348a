"""Region counting of the EvalMuse-Structure scorer, per image and mergeable
across images.

The released scorer (NTIRE 2025 track 2) brings every predicted mask to 512x512
with ``cv2.resize`` (bilinear) and ``> 0``, finds the outer contours of both
masks, keeps the regions whose ``cv2.contourArea`` exceeds a threshold, and
calls a region a hit when the IoU of two filled contours is above 0.1 for ANY
counted region of the other side. It draws two full 512x512 canvases for every
region pair. Here a pair is only looked at when the bounding boxes of its two
regions meet (otherwise the IoU is 0); a region taking part in such a pair is
drawn once, filled, on a canvas the size of its bounding box, and the
intersection is counted in the overlap of the two boxes. Each region is drawn
by itself, exactly as the scorer draws it, so the counts are identical without
assuming anything about how regions of one mask relate
(``tests/test_evaluation/test_functional/scorer_reference.py`` holds the
per-pair version they are checked against). This was measured faster than
painting all regions into label images and histogramming label pairs, which
needs two full-size label images per image and a guard against overlapping
filled regions.

Only the rows that can hold foreground are read: a 1024x1024 uint8 prediction
(~94% of EvalMuse images) is resized in its band of non-zero rows alone (the
2x reduction maps each output row to two input rows), and a 512x512 GT's band
comes from the same pass that checks its maximum; contours, pixel counts and
the GIoU's overlap are then computed in those bands. On the 999-image
benchmark (``benchmarks/structure_score_speed.py``, one host, files loaded,
with the value checks) this took the serial count from 0.32-0.33 s to
0.26-0.29 s, and two workers' from 0.19-0.20 s to 0.16-0.18 s.
"""
from typing import Dict, Iterable, List, NamedTuple, Optional, Sequence, Tuple

import cv2
import numpy as np

# Constants of the released scorer.
SCORER_SIZE = 512
DEFAULT_AREA_RATIO = 0.0006
DEFAULT_GT_MIN_AREA = 150.0
DEFAULT_IOU_THR = 0.1
# The scorer's GIoU smoothing term.
GIOU_EPS = 1e-4
# The scorer's F1 denominator term.
F1_EPS = 1e-10
# cv2.hasNonZero, where this OpenCV has it.
_HAS_NONZERO = getattr(cv2, 'hasNonZero', None)
# Up to this many region pairs the bounding boxes are compared in plain Python.
_PYTHON_PAIRS = 64


class RegionCounts(NamedTuple):
    """What one image contributes to the region-level score; sums across
    images.

    Attributes:
        num_pred (int): counted predicted regions (``P``).
        num_pred_hit (int): counted predicted regions with IoU > thr with a
            counted GT region (``Ph``).
        num_gt (int): counted GT regions (``G``).
        num_gt_missed (int): counted GT regions without such a predicted region
            (``Gm``).
        giou (float): the scorer's foreground IoU of this image,
            ``(|P & G| + 1e-4) / (|P | G| + 1e-4)`` on the 512x512 masks (1
            when both are empty); averaged, not summed.
        pixel_tp (int): foreground pixels in both 512x512 masks (diagnostic
            pixel F1 only).
        pixel_fp (int): predicted-only foreground pixels.
        pixel_fn (int): GT-only foreground pixels.
    """
    num_pred: int
    num_pred_hit: int
    num_gt: int
    num_gt_missed: int
    giou: float
    pixel_tp: int
    pixel_fp: int
    pixel_fn: int


class MaskRegions:
    """The counted outer-contour regions of one binary 512x512 mask, ready for
    matching.

    Build it once per mask (e.g. once per GT image, then match many
    predictions).

    Args:
        mask (np.ndarray): 2-D uint8 array of 0/1 (already at the scorer's
            size).
        min_area (float): a region counts when
            ``cv2.contourArea(contour) > min_area``.
        giou_mask (np.ndarray, optional): the pixels the scorer's GIoU counts,
            when they differ from ``mask`` (a GT stored as 0/255, a prediction
            with negative values; see :func:`pred_scorer_masks`); None:
            ``mask`` itself. Defaults to None.
        rows (tuple[int, int], optional): ``(y0, y1)``: ``mask`` is 0 outside
            rows ``y0:y1``, which are all that is read (see
            :func:`to_scorer_mask`); None: every row. Defaults to None.

    Attributes:
        mask (np.ndarray): the input mask.
        giou_mask (np.ndarray): the GIoU's foreground (``mask`` itself unless
            given).
        contours (list[np.ndarray]): the counted contours, in
            ``cv2.findContours`` order.
        boxes (np.ndarray): ``(K, 4)`` int64 array of ``x0, y0, x1, y1`` (end
            exclusive) bounding boxes.
        rows (tuple[int, int]): ``(y0, y1)``, rows of ``mask`` outside which
            it is 0 (all rows unless given).
        num_pixels (int): foreground pixel count of ``mask``.
    """

    def __init__(self,
                 mask: np.ndarray,
                 min_area: float,
                 giou_mask: Optional[np.ndarray] = None,
                 rows: Optional[Tuple[int, int]] = None) -> None:
        self.mask = mask
        self.giou_mask = mask if giou_mask is None else giou_mask
        self.rows = (0, mask.shape[0]) if rows is None else rows
        band = mask[self.rows[0]:self.rows[1]]
        self.num_pixels = int(cv2.countNonZero(band)) if band.size else 0
        if self.num_pixels:
            # Only the band is scanned; its contours are those of the whole
            # mask (the rows outside are 0, and findContours pads the band
            # with 0 anyway), in the same order (raster order).
            found, _ = cv2.findContours(
                band,
                cv2.RETR_EXTERNAL,
                cv2.CHAIN_APPROX_SIMPLE,
                offset=(0, self.rows[0]))
        else:
            found = ()
        self.contours: List[np.ndarray] = [
            c for c in found if cv2.contourArea(c) > min_area
        ]
        self._boxes: List[Tuple[int, int, int, int]] = []
        for contour in self.contours:
            x, y, w, h = cv2.boundingRect(contour)
            self._boxes.append((x, y, x + w, y + h))
        self._crops: Dict[int, Tuple[np.ndarray, int]] = {}

    @property
    def boxes(self) -> np.ndarray:
        """``(K, 4)`` int64 ``x0, y0, x1, y1`` (end exclusive) bounding
        boxes."""
        return np.array(self._boxes, np.int64).reshape(-1, 4)

    def __len__(self) -> int:
        return len(self.contours)

    def filled(self, idx: int) -> Tuple[np.ndarray, int]:
        """Region ``idx`` drawn filled on a canvas the size of its bounding box
        (cached).

        Args:
            idx (int): region index.

        Returns:
            tuple: uint8 0/1 array of shape ``(y1 - y0, x1 - x0)`` and its
                pixel count.
        """
        if idx not in self._crops:
            x0, y0, x1, y1 = self._boxes[idx]
            canvas = np.zeros((y1 - y0, x1 - x0), np.uint8)
            cv2.drawContours(
                canvas, [self.contours[idx]],
                -1,
                1,
                cv2.FILLED,
                offset=(-x0, -y0))
            self._crops[idx] = (canvas, int(cv2.countNonZero(canvas)))
        return self._crops[idx]

    @property
    def areas(self) -> np.ndarray:
        """``(K,)`` int64 pixel counts of the filled regions."""
        return np.array([self.filled(i)[1] for i in range(len(self))],
                        np.int64)


def _boxes_meet(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(len(a), len(b))`` bool: whether two ``x0, y0, x1, y1`` boxes share a
    pixel.
    """
    return ((a[:, None, 0] < b[None, :, 2]) & (b[None, :, 0] < a[:, None, 2])
            & (a[:, None, 1] < b[None, :, 3]) &
            (b[None, :, 1] < a[:, None, 3]))


def _meeting_pairs(pred: MaskRegions,
                   gt: MaskRegions) -> Iterable[Tuple[int, int]]:
    """The ``(i, j)`` region pairs whose bounding boxes share a pixel."""
    if len(pred) * len(gt) <= _PYTHON_PAIRS:
        # A few regions (the usual case): plain Python is faster than numpy's
        # broadcasting.
        return [(i, j) for i, (px0, py0, px1, py1) in enumerate(pred._boxes)
                for j, (gx0, gy0, gx1, gy1) in enumerate(gt._boxes)
                if px0 < gx1 and gx0 < px1 and py0 < gy1 and gy0 < py1]
    meet = np.nonzero(_boxes_meet(pred.boxes, gt.boxes))
    return zip(meet[0].tolist(), meet[1].tolist())


def _pair_ious(pred: MaskRegions,
               gt: MaskRegions) -> Iterable[Tuple[int, int, float]]:
    """``(i, j, IoU)`` of every region pair whose IoU may be above 0 (their
    bounding boxes meet); the IoU of every other pair is 0.
    """
    for i, j in _meeting_pairs(pred, gt):
        pred_crop, pred_area = pred.filled(i)
        gt_crop, gt_area = gt.filled(j)
        px0, py0, px1, py1 = pred._boxes[i]
        gx0, gy0, gx1, gy1 = gt._boxes[j]
        x0, y0 = max(px0, gx0), max(py0, gy0)
        x1, y1 = min(px1, gx1), min(py1, gy1)
        both = cv2.bitwise_and(pred_crop[y0 - py0:y1 - py0, x0 - px0:x1 - px0],
                               gt_crop[y0 - gy0:y1 - gy0, x0 - gx0:x1 - gx0])
        inter = int(cv2.countNonZero(both))
        # The scorer's arithmetic: integer counts, one true division.
        yield i, j, inter / (pred_area + gt_area - inter)


def region_iou_matrix(pred: MaskRegions, gt: MaskRegions) -> np.ndarray:
    """IoU of every counted predicted region with every counted GT region
    (filled contours).

    Args:
        pred (MaskRegions): predicted regions.
        gt (MaskRegions): GT regions (same mask size).

    Returns:
        np.ndarray: float64 array of shape ``(len(pred), len(gt))``.
    """
    ious = np.zeros((len(pred), len(gt)), np.float64)
    for i, j, iou in _pair_ious(pred, gt):
        ious[i, j] = iou
    return ious


def match_regions(pred: MaskRegions,
                  gt: MaskRegions,
                  iou_thr: float = DEFAULT_IOU_THR) -> RegionCounts:
    """Counts hits and misses of one image exactly as the released scorer does.

    Args:
        pred (MaskRegions): predicted regions of the image (512x512).
        gt (MaskRegions): GT regions of the image (512x512).
        iou_thr (float): a pair matches when its IoU is strictly greater than
            this. Defaults to 0.1.

    Returns:
        RegionCounts: the image's counts.
    """
    if pred.mask.shape != gt.mask.shape:
        raise ValueError(f'predicted mask {pred.mask.shape} and GT mask '
                         f'{gt.mask.shape} differ in size; bring both to the '
                         'scorer size first')
    pred_hit, gt_hit = set(), set()
    for i, j, iou in _pair_ious(pred, gt):
        if iou > iou_thr:
            pred_hit.add(i)
            gt_hit.add(j)
    tp = _overlap(pred.mask, pred.rows, pred.num_pixels, gt.mask, gt.rows,
                  gt.num_pixels)
    if pred.giou_mask is pred.mask and gt.giou_mask is gt.mask:
        giou_both, giou_union = tp, pred.num_pixels + gt.num_pixels - tp
    else:
        # Unusual inputs only (0/255 GT, negative predicted values): the
        # scorer's GIoU counts the pixels equal to 1, its contours every
        # non-zero pixel.
        pred_pixels = int(cv2.countNonZero(pred.giou_mask))
        gt_pixels = int(cv2.countNonZero(gt.giou_mask))
        every_row = (0, pred.mask.shape[0])
        giou_both = _overlap(pred.giou_mask, every_row, pred_pixels,
                             gt.giou_mask, every_row, gt_pixels)
        giou_union = pred_pixels + gt_pixels - giou_both
    giou = (float(giou_both) + GIOU_EPS) / (float(giou_union) + GIOU_EPS)
    return RegionCounts(
        len(pred), len(pred_hit), len(gt),
        len(gt) - len(gt_hit), giou, tp, pred.num_pixels - tp,
        gt.num_pixels - tp)


def _overlap(a: np.ndarray, a_rows: Tuple[int, int], a_pixels: int,
             b: np.ndarray, b_rows: Tuple[int, int], b_pixels: int) -> int:
    """Foreground pixels two 0/1 masks share, given their pixel counts and the
    rows outside which each is 0.
    """
    y0, y1 = max(a_rows[0], b_rows[0]), min(a_rows[1], b_rows[1])
    if a_pixels and b_pixels and y0 < y1:
        return int(cv2.countNonZero(cv2.bitwise_and(a[y0:y1], b[y0:y1])))
    return 0


def to_scorer_mask(mask: np.ndarray, size: int = SCORER_SIZE) -> np.ndarray:
    """Brings a mask to the scorer's grid: ``cv2.resize`` (bilinear) to
    ``size`` x ``size``, then every value ``> 0`` becomes 1.

    Args:
        mask (np.ndarray): 2-D array (or ``(H, W, 1)``, which ``cv2.resize``
            reads as one channel) of a dtype ``cv2.resize`` accepts (uint8,
            uint16, int16, float32, float64); bool is read as uint8 0/1 (the
            released scorer itself cannot resize a bool array). Negative values
            count as background here; :func:`pred_scorer_masks` gives the
            scorer's reading of them.
        size (int): side of the square grid. Defaults to 512.

    Returns:
        np.ndarray: uint8 array of 0/1 with shape ``(size, size)``.
    """
    return _scorer_grid(mask, size)[0]


def _scorer_grid(mask: np.ndarray,
                 size: int) -> Tuple[np.ndarray, Tuple[int, int]]:
    """:func:`to_scorer_mask`, and the rows ``(y0, y1)`` outside which its
    result is 0.
    """
    arr = _single_channel(np.asarray(mask))
    if arr.dtype == np.bool_:
        arr = arr.view(np.uint8)
    if arr.shape == (size, size):
        return np.greater(arr, 0).view(np.uint8), (0, size)
    if arr.dtype == np.uint8 and arr.shape == (2 * size, 2 * size):
        return _halved(arr, size)
    if arr.ndim == 2 and _is_empty(arr):
        # An empty mask resizes to an empty mask: skip the resize.
        return np.zeros((size, size), np.uint8), (0, 0)
    arr = cv2.resize(arr, (size, size))
    if arr.dtype == np.uint8:
        # In place on the fresh resize output: every value > 0 becomes 1.
        cv2.threshold(arr, 0, 1, cv2.THRESH_BINARY, dst=arr)
        return arr, (0, size)
    return np.greater(arr, 0).view(np.uint8), (0, size)


def _halved(arr: np.ndarray, size: int) -> Tuple[np.ndarray, Tuple[int, int]]:
    """A uint8 mask of twice the grid's side (1024x1024: ~94% of EvalMuse
    images) on the grid, as :func:`to_scorer_mask` makes it, and its rows.

    A bilinear resize by exactly 1/2 averages each 2x2 block (OpenCV takes
    its INTER_AREA path for it), so output row ``i`` depends on input rows
    ``2i`` and ``2i + 1`` alone: only the rows from the first to the last
    non-zero input row are resized, the others are 0 (checked against the
    whole resize in the tests). Finding those rows is one pass that also
    streams the mask into the cache for the resize; an empty mask ends there.
    """
    y0, y1 = _row_span(cv2.reduce(arr, 1, cv2.REDUCE_MAX))
    out = np.zeros((size, size), np.uint8)
    if y0 == y1:
        return out, (0, 0)
    y0, y1 = y0 // 2, (y1 + 1) // 2
    band = out[y0:y1]
    cv2.resize(arr[2 * y0:2 * y1], (size, y1 - y0), dst=band)
    cv2.threshold(band, 0, 1, cv2.THRESH_BINARY, dst=band)
    return out, (y0, y1)


def _row_span(row_max: np.ndarray) -> Tuple[int, int]:
    """``(y0, y1)``: the rows from the first to the last non-zero entry of a
    column of row maxima (``(0, 0)`` when there is none).
    """
    rows = np.flatnonzero(row_max)
    if not rows.size:
        return 0, 0
    return int(rows[0]), int(rows[-1]) + 1


def _is_empty(arr: np.ndarray) -> bool:
    """Whether nothing in a 2-D mask is above 0, i.e. its resize is empty.

    Integer masks take their maximum: a full pass, but one that streams the
    mask into the cache right before ``cv2.resize`` reads it, so the two
    together take less time than the resize alone (measured on 999 masks at
    1024x1024, ``benchmarks/structure_score_speed.py``, before those took
    :func:`_halved`). Float masks, where
    a NaN would hide a positive value from the maximum, take the non-zero
    test.

    Args:
        arr (np.ndarray): A 2-D mask.

    Returns:
        bool: True when no value is above 0.
    """
    if arr.dtype.kind in 'biu':
        return not arr.max() > 0
    return not _has_nonzero(arr)


def _has_nonzero(arr: np.ndarray) -> bool:
    """Whether a one-channel image has a non-zero pixel (OpenCV >= 4.7 stops at
    the first).
    """
    if _HAS_NONZERO is not None:
        return bool(_HAS_NONZERO(arr))
    return bool(cv2.countNonZero(arr))


def gt_scorer_mask(mask: np.ndarray, size: int = SCORER_SIZE) -> np.ndarray:
    """The GT mask as the scorer uses it: as stored when it is ``size`` x
    ``size``.

    The released scorer never resizes its GT (its gt.pkl is stored at 512x512
    and another size would crash it); a GT of another size is brought to the
    grid the way predictions are (:func:`to_scorer_mask`), which is also how
    ``tools/misc/make_gt_pkl.py`` and ``StructureMetric`` build it.

    Args:
        mask (np.ndarray): 2-D array of 0/1 (any numeric dtype or bool).
        size (int): side of the square grid. Defaults to 512.

    Returns:
        np.ndarray: uint8 array of 0/1 with shape ``(size, size)``.
    """
    arr = np.asarray(mask)
    if arr.shape != (size, size):
        return to_scorer_mask(arr, size)
    if arr.dtype == np.uint8 and arr.flags.c_contiguous:
        # Already the scorer's form (0/1 values are checked by check_gt_area).
        return arr
    return np.not_equal(arr, 0).view(np.uint8)


def _single_channel(arr: np.ndarray) -> np.ndarray:
    """``(H, W, 1)`` -> ``(H, W)``, as ``cv2.resize`` returns a one-channel
    image.
    """
    return arr[:, :, 0] if arr.ndim == 3 and arr.shape[2] == 1 else arr


def pred_scorer_masks(
        pred_area: np.ndarray,
        size: int = SCORER_SIZE) -> Tuple[np.ndarray, np.ndarray]:
    """A submission mask as the scorer reads it: its regions' mask and its GIoU
    mask.

    The scorer resizes the mask, sets every value ``> 0`` to 1 in place, finds
    contours on the array cast to uint8 and counts the pixels equal to 1 for
    its GIoU. For masks without negative values both are :func:`to_scorer_mask`
    (one array). A negative integer stays negative through the first steps and
    wraps around in the uint8 cast (-1 -> 255): a contour foreground, but not a
    GIoU pixel.

    Args:
        pred_area (np.ndarray): the submission's ``pred_area`` (see
            :func:`to_scorer_mask`).
        size (int): side of the square grid. Defaults to 512.

    Returns:
        tuple: ``(regions, giou)`` uint8 0/1 arrays of shape ``(size, size)``;
            the same object twice unless the mask holds negative integers.
    """
    regions, giou, _ = _pred_grid(pred_area, size)
    return regions, giou


def _pred_grid(pred_area: np.ndarray,
               size: int) -> Tuple[np.ndarray, np.ndarray, Tuple[int, int]]:
    """:func:`pred_scorer_masks`, and the rows outside which both are 0."""
    arr = _single_channel(np.asarray(pred_area))
    if arr.dtype.kind == 'i' and arr.size and arr.min() < 0:
        resized = cv2.resize(arr,
                             (size,
                              size)) if arr.shape != (size,
                                                      size) else arr.copy()
        resized[resized > 0] = 1
        regions = np.not_equal(resized.astype(np.uint8), 0).view(np.uint8)
        return regions, np.equal(resized, 1).view(np.uint8), (0, size)
    mask, rows = _scorer_grid(arr, size)
    return mask, mask, rows


def gt_scorer_masks(gt_area: np.ndarray,
                    size: int = SCORER_SIZE) -> Tuple[np.ndarray, np.ndarray]:
    """A gt.pkl mask as the scorer reads it: its regions' mask and its GIoU
    mask.

    Contours see every non-zero pixel, the GIoU only the pixels equal to 1: a
    GT stored as 0/255 has the regions of its 0/1 version and an empty GIoU
    foreground. Other sizes than ``size`` x ``size`` follow
    :func:`gt_scorer_mask` (both masks alike).

    Args:
        gt_area (np.ndarray): the GT mask (0/1, or 0/255).
        size (int): side of the square grid. Defaults to 512.

    Returns:
        tuple: ``(regions, giou)`` uint8 0/1 arrays; the same object twice for
            0/1 masks.
    """
    regions, giou, _ = _gt_grid(gt_area, size)
    return regions, giou


def _gt_grid(gt_area: np.ndarray,
             size: int) -> Tuple[np.ndarray, np.ndarray, Tuple[int, int]]:
    """:func:`gt_scorer_masks`, and the rows outside which both are 0."""
    arr = np.asarray(gt_area)
    if arr.shape == (size, size) and arr.dtype == np.uint8:
        # One pass gives both the maximum and the rows.
        row_max = cv2.reduce(arr, 1, cv2.REDUCE_MAX)
        rows = _row_span(row_max)
        binary = row_max.max() <= 1
    else:
        rows = (0, size)
        binary = (
            arr.shape != (size, size) or arr.dtype == np.bool_
            or arr.max() <= 1)
    if binary:
        regions = gt_scorer_mask(arr, size)
        return regions, regions, rows
    return (np.not_equal(arr,
                         0).view(np.uint8), np.equal(arr,
                                                     1).view(np.uint8), rows)


def pred_min_area(area_ratio: float = DEFAULT_AREA_RATIO,
                  size: int = SCORER_SIZE) -> float:
    """The scorer's area threshold for predicted regions, ``size * size *
    area_ratio``.
    """
    return size * size * area_ratio


def image_region_counts(pred_area: np.ndarray,
                        gt_area: np.ndarray,
                        *,
                        area_ratio: float = DEFAULT_AREA_RATIO,
                        gt_min_area: float = DEFAULT_GT_MIN_AREA,
                        iou_thr: float = DEFAULT_IOU_THR) -> RegionCounts:
    """Region counts of one image from a submission's ``pred_area`` and a
    gt.pkl mask.

    Args:
        pred_area (np.ndarray): predicted 2-D mask, any resolution (see
            :func:`pred_scorer_masks`).
        gt_area (np.ndarray): GT 2-D 0/1 mask (see :func:`gt_scorer_masks`).
        area_ratio (float): predicted regions count above
            ``512 * 512 * area_ratio``. Defaults to 0.0006.
        gt_min_area (float): GT regions count above this contour area. Defaults
            to 150.0.
        iou_thr (float): IoU above which two regions match. Defaults to 0.1.

    Returns:
        RegionCounts: the image's counts.
    """
    pred_mask, pred_giou, pred_rows = _pred_grid(pred_area, SCORER_SIZE)
    gt_mask, gt_giou, gt_rows = _gt_grid(gt_area, SCORER_SIZE)
    pred = MaskRegions(pred_mask, pred_min_area(area_ratio), pred_giou,
                       pred_rows)
    gt = MaskRegions(gt_mask, gt_min_area, gt_giou, gt_rows)
    return match_regions(pred, gt, iou_thr)


def _ratio(num: float, den: float) -> float:
    return num / den if den else float('nan')


def summarize_region_counts(counts: Iterable[RegionCounts]) -> dict:
    """Set-level region scores from per-image counts, in the scorer's
    arithmetic.

    ``precision = Ph / P``, ``recall = 1 - Gm / G``, ``F1 = 2 P R / (P + R +
    1e-10)``, ``giou`` = mean of the per-image GIoU (summed in the given order,
    like the scorer). The diagnostic ``pixel_*`` numbers pool foreground pixels
    over all images; they are not part of the challenge score. An undefined
    ratio (no predicted region, no GT region) is NaN; callers warn.

    Args:
        counts (Iterable[RegionCounts]): per-image :class:`RegionCounts`, in
            evaluation order.

    Returns:
        dict: ``precision, recall, f1_score, giou, pixel_precision,
            pixel_recall, pixel_f1, num_images, num_pred_regions, num_pred_hit,
            num_gt_regions, num_gt_missed``.
    """
    num = pred = pred_hit = gt = gt_missed = tp = fp = fn = 0
    giou_sum = 0.0
    for c in counts:
        num += 1
        pred += c.num_pred
        pred_hit += c.num_pred_hit
        gt += c.num_gt
        gt_missed += c.num_gt_missed
        tp += c.pixel_tp
        fp += c.pixel_fp
        fn += c.pixel_fn
        giou_sum += c.giou
    precision = _ratio(pred_hit, pred)
    recall = 1.0 - _ratio(gt_missed, gt)
    f1 = 2 * precision * recall / (precision + recall + F1_EPS)
    pixel_precision = _ratio(tp, tp + fp)
    pixel_recall = _ratio(tp, tp + fn)
    pixel_f1 = _ratio(2 * tp, 2 * tp + fp + fn)
    return dict(
        precision=precision,
        recall=recall,
        f1_score=f1,
        giou=_ratio(giou_sum, num),
        pixel_precision=pixel_precision,
        pixel_recall=pixel_recall,
        pixel_f1=pixel_f1,
        num_images=num,
        num_pred_regions=pred,
        num_pred_hit=pred_hit,
        num_gt_regions=gt,
        num_gt_missed=gt_missed)


def region_counts_array(
        counts: Sequence[RegionCounts]) -> Tuple[np.ndarray, np.ndarray]:
    """Packs counts compactly: ``(K, 7)`` int64 of the integer fields, ``(K,)``
    GIoU.

    Args:
        counts (Sequence[RegionCounts]): a sequence of :class:`RegionCounts`
            (e.g. one per score threshold).

    Returns:
        tuple: the integer array and the float64 GIoU array.
    """
    ints = np.array([[
        c.num_pred, c.num_pred_hit, c.num_gt, c.num_gt_missed, c.pixel_tp,
        c.pixel_fp, c.pixel_fn
    ] for c in counts], np.int64).reshape(-1, 7)
    gious = np.array([c.giou for c in counts], np.float64)
    return ints, gious


def region_counts_from_array(ints: np.ndarray,
                             gious: np.ndarray) -> List[RegionCounts]:
    """Inverse of :func:`region_counts_array`."""
    return [
        RegionCounts(
            int(r[0]), int(r[1]), int(r[2]), int(r[3]), float(g), int(r[4]),
            int(r[5]), int(r[6]))
        for r, g in zip(ints.tolist(), gious.tolist())
    ]
