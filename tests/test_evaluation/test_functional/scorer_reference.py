"""A straightforward, slow re-statement of the EvalMuse-Structure scorer, for
tests only.

Written independently of ``struct_det.evaluation.functional`` and kept
deliberately
literal: every region pair is drawn on two fresh 512x512 canvases, hits are
    found with
nested loops, and the correlations are computed inline. The fast implementation
must give identical numbers. ``benchmarks/structure_score_speed.py`` times
against it too.
"""
import cv2
import numpy as np
from scipy import optimize, stats

SIZE = 512


def binarize_prediction(pred_area):
    """cv2.resize to 512x512 (bilinear), then every positive value becomes 1.
    """
    resized = cv2.resize(pred_area, (SIZE, SIZE))
    resized[resized > 0] = 1
    return resized


def binarize_gt(gt_area):
    """GT used as stored at 512x512; other sizes like predictions (our
    documented rule).
    """
    if gt_area.shape == (SIZE, SIZE):
        return np.asarray(gt_area).astype(np.uint8)
    return binarize_prediction(np.asarray(gt_area).astype(np.uint8))


def outer_regions(mask, min_area):
    contours, _ = cv2.findContours(
        mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    return [c for c in contours if cv2.contourArea(c) > min_area]


def pair_iou(contour_a, contour_b):
    canvas_a = np.zeros((SIZE, SIZE), np.uint8)
    canvas_b = np.zeros((SIZE, SIZE), np.uint8)
    cv2.drawContours(canvas_a, [contour_a], -1, 1, thickness=cv2.FILLED)
    cv2.drawContours(canvas_b, [contour_b], -1, 1, thickness=cv2.FILLED)
    inter = np.logical_and(canvas_a, canvas_b).sum()
    union = np.logical_or(canvas_a, canvas_b).sum()
    return 0.0 if union == 0 else inter / union


def image_counts(pred_area,
                 gt_area,
                 area_ratio=0.0006,
                 gt_min_area=150,
                 iou_thr=0.1):
    """Returns (P, Ph, G, Gm, giou) of one image."""
    return binary_counts(
        binarize_prediction(pred_area), binarize_gt(gt_area),
        SIZE * SIZE * area_ratio, gt_min_area, iou_thr)


def binary_counts(pred, gt, pred_min_area, gt_min_area, iou_thr):
    """(P, Ph, G, Gm, giou) of two 512x512 0/1 masks."""
    pred_regions = outer_regions(pred, pred_min_area)
    gt_regions = outer_regions(gt, gt_min_area)
    pred_hit = [False] * len(pred_regions)
    gt_hit = [False] * len(gt_regions)
    # Phase 1: every predicted region looks for its first matching GT region.
    for i, p in enumerate(pred_regions):
        for j, g in enumerate(gt_regions):
            if pair_iou(p, g) > iou_thr:
                pred_hit[i] = gt_hit[j] = True
                break
    # Phase 2: GT regions still unmatched look through all predicted regions.
    for j, g in enumerate(gt_regions):
        if gt_hit[j]:
            continue
        for i, p in enumerate(pred_regions):
            if pair_iou(p, g) > iou_thr:
                pred_hit[i] = gt_hit[j] = True
                break
    # Smoothed IoU of both classes, as the scorer computes them; class 1 is its
    # GIoU.
    class_iou = []
    for cls in (0, 1):
        a, b = pred == cls, gt == cls
        class_iou.append((np.logical_and(a, b).sum() + 1e-4) /
                         (np.logical_or(a, b).sum() + 1e-4))
    giou = class_iou[1]
    return len(pred_regions), sum(pred_hit), len(gt_regions), gt_hit.count(
        False), giou


def reference_logistic(x, b1, b2, b3, b4):
    return b2 + np.divide(
        b1 - b2, 1 + np.exp(np.negative(np.divide(x - b3, np.abs(b4)))))


def reference_score(preds,
                    gts,
                    area_ratio=0.0006,
                    gt_min_area=150,
                    iou_thr=0.1):
    """The whole scorer on two submission-form dicts (GT order)."""
    P = Ph = G = Gm = 0
    giou_sum = 0.
    pred_scores, gt_scores = [], []
    for key in gts:
        p, ph, g, gm, giou = image_counts(preds[key]['pred_area'],
                                          gts[key]['pred_area'], area_ratio,
                                          gt_min_area, iou_thr)
        P, Ph, G, Gm = P + p, Ph + ph, G + g, Gm + gm
        giou_sum += giou
        pred_scores.append(preds[key]['score'])
        gt_scores.append(gts[key]['score'])
    precision = Ph / P
    recall = 1. - Gm / G
    f1 = 2 * precision * recall / (precision + recall + 1e-10)
    x, y = np.array(pred_scores), np.array(gt_scores)
    popt, _ = optimize.curve_fit(
        reference_logistic,
        x,
        y,
        p0=[np.max(y), np.min(y), np.mean(x),
            np.std(x)],
        maxfev=int(1e8))
    plcc = stats.pearsonr(y, reference_logistic(x, *popt))[0]
    srcc = stats.spearmanr(y, x)[0]
    return dict(
        precision=precision,
        recall=recall,
        f1_score=f1,
        giou=giou_sum / len(gts),
        plcc=plcc,
        srcc=srcc,
        final_score=f1 * 0.7 + (plcc + srcc) * 0.3 / 2,
        num_pred_regions=P,
        num_pred_hit=Ph,
        num_gt_regions=G,
        num_gt_missed=Gm)
