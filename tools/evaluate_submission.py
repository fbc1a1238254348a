"""Score an EvalMuse-Structure submission locally, as the challenge's scorer
does.

Example::

    python tools/evaluate_submission.py submission.zip gt.pkl --out-json \
        scores.json

PRED is a submission zip (``output.pkl`` + ``readme.txt``) or a bare
``output.pkl``; GT is a gt.pkl (``tools/misc/make_gt_pkl.py``). Both pickles
are opened with a restricted unpickler (numpy arrays and scalars only). The
submission is validated first; the scorer's lines (``Final_Score`` ...
``GIoU``) go to stdout, all numbers to ``--out-json``.
"""
import argparse
import importlib.util
import math
import os
import os.path as osp
import runpy
import sys
import warnings

_REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
if osp.isfile(osp.join(_REPO, 'struct_det', '__init__.py')):
    sys.path.insert(0, _REPO)  # run from a checkout without installing

# struct_det/light_import.py, run by path: this tool needs numpy, OpenCV and
# SciPy only, not the torch/mmdet stack that ``import struct_det`` registers.
_LIGHT = runpy.run_path(
    osp.join(
        osp.dirname(importlib.util.find_spec('struct_det').origin),
        'light_import.py'))
_LIGHT['import_light']('struct_det.evaluation.submission')

from struct_det.evaluation.functional import (DEFAULT_AREA_RATIO,
                                              DEFAULT_GT_MIN_AREA,
                                              DEFAULT_IOU_THR, PLCC_FITS)
from struct_det.evaluation.submission import (format_score_lines,
                                              read_submission, restricted_load,
                                              save_json, validate_and_score)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Score a submission against '
                                     'a gt.pkl')
    parser.add_argument('pred', help='submission .zip or output.pkl')
    parser.add_argument('gt', help='gt.pkl')
    parser.add_argument(
        '--out-json', help='write every number to this JSON file')
    parser.add_argument(
        '--area-ratio',
        type=float,
        default=DEFAULT_AREA_RATIO,
        help='predicted regions count above 512*512*ratio (scorer: 0.0006)')
    parser.add_argument(
        '--gt-min-area',
        type=float,
        default=DEFAULT_GT_MIN_AREA,
        help='GT regions count above this contour area (scorer: 150)')
    parser.add_argument(
        '--iou-thr',
        type=float,
        default=DEFAULT_IOU_THR,
        help='regions match above this IoU (scorer: 0.1)')
    parser.add_argument(
        '--plcc-fit',
        choices=PLCC_FITS,
        default='logistic4',
        help='mapping before PLCC (scorer: logistic4)')
    parser.add_argument(
        '--workers',
        type=int,
        default=None,
        help='workers counting regions, forked processes (default: one per '
        'core from 64 images on; 1: serial); the numbers do not depend on it')
    return parser.parse_args(argv)


def main(argv=None, keep_alive: list = None) -> dict:
    """Scores PRED against GT; with ``keep_alive`` (a list) the loaded dicts
    are appended to it, so that the caller decides when (or whether) they are
    freed."""
    args = parse_args(argv)
    try:
        preds, _ = read_submission(args.pred)
        gts = restricted_load(args.gt)
        if keep_alive is not None:
            keep_alive.extend((preds, gts))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always', RuntimeWarning)
            result, notes = validate_and_score(
                preds,
                gts,
                pred_source=args.pred,
                gt_source=args.gt,
                area_ratio=args.area_ratio,
                gt_min_area=args.gt_min_area,
                iou_thr=args.iou_thr,
                plcc_fit=args.plcc_fit,
                workers=args.workers)
    except (ValueError, FileNotFoundError) as err:
        sys.exit(f'error: {err}')
    for note in notes:
        print(f'note: {note}', file=sys.stderr)
    for w in caught:
        print(f'warning: {w.message}', file=sys.stderr)
    sys.stdout.write(format_score_lines(result))
    if args.out_json:
        # NaN is not JSON: undefined numbers are written as null.
        save_json(
            {
                k: (None if isinstance(v, float) and math.isnan(v) else v)
                for k, v in result.items()
            }, args.out_json)
    return result


if __name__ == '__main__':
    # Everything is printed and written once main returns; the loaded masks
    # (1.25 GB for a 1,000-image submission and its gt.pkl) are not freed
    # object by object (~0.1 s) nor is the interpreter torn down: the OS
    # reclaims the memory at once.
    _kept: list = []
    main(keep_alive=_kept)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
