"""The released EvalMuse-Structure scorer's procedure, step by step: the speed
anchor.

Example::

    python benchmarks/released_scorer_procedure.py output.pkl gt.pkl

A plain restatement of the organisers' ``evaluate.py`` as the spec
(``/work/shared/spec/evalmuse_structure.md``, section 3) describes it, written
for the benchmark and independent of struct_det: the extracted ``output.pkl``
and the ``gt.pkl`` are unpickled, then for every GT key the prediction is
resized to 512x512 and binarised, the outer contours of both masks are filtered
by area, every predicted/GT contour pair is drawn filled on two fresh 512x512
canvases to get its IoU, and the per-class IoUs of the two masks are computed
for the GIoU; then SRCC, the logistic fit and PLCC. It prints the scorer's
lines, and with ``--timing`` the seconds spent importing, loading and computing
(on stderr). ``benchmarks/structure_score_speed.py`` runs it as a whole
process.
"""
import time

_START = time.perf_counter()

import argparse  # noqa: E402
import pickle  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from scipy import optimize, stats  # noqa: E402

SIZE = 512


def logistic(x: np.ndarray, b1: float, b2: float, b3: float,
             b4: float) -> np.ndarray:
    """The scorer's 4-parameter logistic mapping of predicted scores."""
    return b2 + (b1 - b2) / (1 + np.exp(-((x - b3) / np.abs(b4))))


def outer_contours(mask: np.ndarray, min_area: float) -> list:
    """Outer contours of a mask whose ``cv2.contourArea`` exceeds ``min_area``.
    """
    contours, _ = cv2.findContours(
        mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    return [c for c in contours if cv2.contourArea(c) > min_area]


def contour_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two contours, each drawn filled on its own 512x512 canvas."""
    canvas_a = np.zeros((SIZE, SIZE), np.uint8)
    canvas_b = np.zeros((SIZE, SIZE), np.uint8)
    cv2.drawContours(canvas_a, [a], -1, 1, thickness=-1)
    cv2.drawContours(canvas_b, [b], -1, 1, thickness=-1)
    inter = np.logical_and(canvas_a, canvas_b).sum()
    union = np.logical_or(canvas_a, canvas_b).sum()
    return inter / union if union else 0.0


def score(preds: dict,
          gts: dict,
          area_ratio: float = 0.0006,
          gt_min_area: float = 150,
          iou_thr: float = 0.1) -> dict:
    """The scorer's numbers for two submission-form dicts, in the GT's key
    order.

    Args:
        preds: ``{key: {"score", "pred_area"}}`` as unpickled from
            ``output.pkl``.
        gts: the same form, from ``gt.pkl``.
        area_ratio: predicted regions count above ``512 * 512 * area_ratio``.
        gt_min_area: GT regions count above this contour area.
        iou_thr: two regions match above this IoU.

    Returns:
        dict: ``final_score, srcc, plcc, precision, recall, f1_score, giou``.
    """
    num_pred = num_pred_hit = num_gt = num_gt_missed = 0
    gious, pred_scores, gt_scores = [], [], []
    for key in gts:
        pred = cv2.resize(preds[key]['pred_area'], (SIZE, SIZE))
        pred[pred > 0] = 1
        gt = gts[key]['pred_area']
        pred_regions = outer_contours(pred, SIZE * SIZE * area_ratio)
        gt_regions = outer_contours(gt, gt_min_area)
        for p in pred_regions:
            if any(contour_iou(p, g) > iou_thr for g in gt_regions):
                num_pred_hit += 1
        for g in gt_regions:
            if not any(contour_iou(p, g) > iou_thr for p in pred_regions):
                num_gt_missed += 1
        num_pred += len(pred_regions)
        num_gt += len(gt_regions)
        class_iou = []
        for cls in (0, 1):
            a, b = pred == cls, gt == cls
            class_iou.append((np.logical_and(a, b).sum() + 1e-4) /
                             (np.logical_or(a, b).sum() + 1e-4))
        gious.append(class_iou[1])
        pred_scores.append(preds[key]['score'])
        gt_scores.append(gts[key]['score'])
    precision = num_pred_hit / num_pred
    recall = 1 - num_gt_missed / num_gt
    f1 = 2 * precision * recall / (precision + recall + 1e-10)
    x, y = np.array(pred_scores), np.array(gt_scores)
    srcc = stats.spearmanr(y, x)[0]
    popt, _ = optimize.curve_fit(
        logistic,
        x,
        y,
        p0=[np.max(y), np.min(y), np.mean(x),
            np.std(x)],
        maxfev=int(1e8))
    plcc = stats.pearsonr(y, logistic(x, *popt))[0]
    return dict(
        final_score=f1 * 0.7 + (plcc + srcc) * 0.3 / 2,
        srcc=srcc,
        plcc=plcc,
        precision=precision,
        recall=recall,
        f1_score=f1,
        giou=sum(gious) / len(gious))


def main(argv: list = None) -> None:
    """Scores ``PRED`` against ``GT`` and prints the scorer's lines."""
    parser = argparse.ArgumentParser(description='the released scorer\'s '
                                     'procedure')
    parser.add_argument('pred', help='the extracted output.pkl')
    parser.add_argument('gt', help='gt.pkl')
    parser.add_argument(
        '--timing',
        action='store_true',
        help='print import / load / compute seconds to stderr')
    args = parser.parse_args(argv)
    imported = time.perf_counter()
    with open(args.pred, 'rb') as f:
        preds = pickle.load(f)
    with open(args.gt, 'rb') as f:
        gts = pickle.load(f)
    loaded = time.perf_counter()
    result = score(preds, gts)
    done = time.perf_counter()
    for label, key in (('Final_Score', 'final_score'), ('SRCC', 'srcc'),
                       ('PLCC', 'plcc'), ('Precision', 'precision'),
                       ('Recall', 'recall'), ('F1_Score',
                                              'f1_score'), ('GIoU', 'giou')):
        print(f'{label}: {result[key]:.4f}')
    if args.timing:
        import sys
        print(
            f'timing: import {imported - _START:.3f} load '
            f'{loaded - imported:.3f} compute {done - loaded:.3f}',
            file=sys.stderr)


if __name__ == '__main__':
    main()
