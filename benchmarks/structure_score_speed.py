"""Speed of the challenge-score region counting: label/histogram version vs per-pair scorer.

Example::

    python benchmarks/structure_score_speed.py --num 1000

Builds real-sized cases (1024x1024 predicted masks with a few blobs, GT stored at 512x512
as in gt.pkl), checks both versions give identical counts, and prints a markdown table of
milliseconds per image and the ratio. The baseline is the literal per-pair scorer of
``tests/test_evaluation/scorer_reference.py`` (two full canvases per region pair), run in
the same process on the same masks.
"""
import argparse
import importlib.util
import os.path as osp
import sys
import time

import cv2
import numpy as np

_REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
if osp.isfile(osp.join(_REPO, 'struct_det', '__init__.py')):
    sys.path.insert(0, _REPO)

from struct_det.evaluation.functional import (MaskRegions, image_region_counts,  # noqa: E402
                                              match_regions, pred_min_area)


def _load_reference():
    path = osp.join(_REPO, 'tests', 'test_evaluation', 'scorer_reference.py')
    spec = importlib.util.spec_from_file_location('scorer_reference', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _blobs(rng, mask, n, radius):
    size = mask.shape[0]
    for _ in range(n):
        centre = tuple(int(v) for v in rng.integers(radius[1], size - radius[1], 2))
        axes = tuple(int(v) for v in rng.integers(radius[0], radius[1], 2))
        cv2.ellipse(mask, centre, axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
    return mask


def make_cases(num, seed, blobs=(0, 4), extra=(0, 3), size=1024):
    """Pairs of (1024x1024 prediction, 512x512 GT) with a few distortion blobs each."""
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(num):
        gt = _blobs(rng, np.zeros((size, size), np.uint8), int(rng.integers(*blobs)), (15, 120))
        # A prediction: the GT blobs shifted and grown or shrunk, false positives, specks.
        shift = tuple(int(v) for v in rng.integers(-25, 25, 2))
        pred = np.roll(gt, shift, axis=(0, 1))
        pred = (cv2.dilate if rng.random() < 0.5 else cv2.erode)(pred, np.ones((9, 9), np.uint8))
        pred = _blobs(rng, pred, int(rng.integers(*extra)), (15, 100))
        pred = _blobs(rng, pred, int(rng.integers(0, 4)), (2, 8))
        gt512 = (cv2.resize(gt, (512, 512)) > 0).astype(np.uint8)
        cases.append((pred, gt512))
    return cases


def _time(fn, cases, repeat):
    best = float('inf')
    for _ in range(repeat):
        start = time.perf_counter()
        out = [fn(p, g) for p, g in cases]
        best = min(best, time.perf_counter() - start)
    return best / len(cases) * 1e3, out


def _unavoidable(pred, gt512):
    pred512 = cv2.resize(pred, (512, 512))
    cv2.threshold(pred512, 0, 1, cv2.THRESH_BINARY, dst=pred512)
    for mask in (pred512, gt512):
        cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    return (cv2.countNonZero(pred512), cv2.countNonZero(gt512),
            cv2.countNonZero(cv2.bitwise_and(pred512, gt512)))


def _stage_ours(pred512, gt512):
    return match_regions(MaskRegions(pred512, pred_min_area()), MaskRegions(gt512, 150.0))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--num', type=int, default=1000, help='images per scenario')
    parser.add_argument('--ref-num', type=int, default=None,
                        help='time the baseline on the first N images only (per-image times '
                        'are compared); default: all')
    parser.add_argument('--repeat', type=int, default=3, help='best of N runs')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    ref = _load_reference()
    ref_num = args.ref_num or args.num

    def ref_stage(pred512, gt512):
        return ref.binary_counts(pred512, gt512, pred_min_area(), 150, 0.1)

    scenarios = [
        ('a few blobs (0-3 GT, 0-2 extra predicted)', make_cases(args.num, args.seed)),
        ('many blobs (10-20 GT, 5-10 extra predicted)',
         make_cases(max(args.num // 5, 1), args.seed + 1, blobs=(10, 21), extra=(5, 11))),
    ]
    rows = []
    for name, cases in scenarios:
        regions = sum(c.num_pred + c.num_gt for c in
                      (image_region_counts(p, g) for p, g in cases[:50])) / min(len(cases), 50)
        sub = cases[:min(ref_num, len(cases))]
        ours_ms, ours = _time(lambda p, g: image_region_counts(p, g), cases, args.repeat)
        ref_ms, refs = _time(ref.image_counts, sub, args.repeat)
        for mine, theirs in zip(ours, refs):
            if tuple(mine)[:5] != tuple(theirs):
                raise SystemExit(f'MISMATCH: {tuple(mine)} vs {theirs}')
        rows.append((f'{name}, end to end (resize + regions + GIoU)', len(cases), len(sub),
                     regions, ref_ms, ours_ms))
        binarized = [(ref.binarize_prediction(p), g) for p, g in cases]
        ours_ms, ours = _time(_stage_ours, binarized, args.repeat)
        ref_ms, refs = _time(ref_stage, binarized[:len(sub)], args.repeat)
        for mine, theirs in zip(ours, refs):
            if tuple(mine)[:5] != theirs:
                raise SystemExit(f'MISMATCH: {tuple(mine)} vs {theirs}')
        rows.append((f'{name}, region matching only (512x512 inputs)', len(cases), len(sub),
                     regions, ref_ms, ours_ms))
        # What any exact implementation must run: the resize and one findContours per mask
        # and the pixel counts of the GIoU. It bounds the possible end-to-end speed-up.
        floor_ms, _ = _time(_unavoidable, cases, args.repeat)
        rows.append((f'{name}, unavoidable cv2 calls only (bound for end to end)', len(cases),
                     len(sub), regions, rows[-2][4], floor_ms))

    print(f'counts identical to the per-pair scorer on every timed image; best of '
          f'{args.repeat} runs each; cv2 {cv2.__version__}, numpy {np.__version__}\n')
    print('| scenario | images (baseline) | regions / image | per-pair scorer ms/img '
          '| struct_det ms/img | speed-up |')
    print('|---|---|---|---|---|---|')
    for name, n, n_ref, regions, ref_ms, ours_ms in rows:
        print(f'| {name} | {n} ({n_ref}) | {regions:.1f} | {ref_ms:.3f} | {ours_ms:.3f} '
              f'| {ref_ms / ours_ms:.1f}x |')


if __name__ == '__main__':
    main()
