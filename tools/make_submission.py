"""Turn saved predictions into an EvalMuse-Structure submission zip.

Examples::

    # one joint model (regions + scores), threshold calibrated during training
    python tools/test.py CONFIG CKPT --out results.pkl
    python tools/make_submission.py results.pkl submission.zip --calibration \
        CKPT --split-keys data/evalmuse_structure/test/test_info.json \
        --test-log work_dirs/CONFIG/<timestamp>/<timestamp>.log

    # a detector for the regions and a score model (e.g. LoDa) for the scores
    python tools/make_submission.py det.pkl submission.zip --scores loda.pkl \
        --score-thr 0.3 --runtime 0.52

The zip holds ``output.pkl`` (``{key: {"score", "pred_area"}}``, 2-D uint8
0/1 masks, keys without extension) and ``readme.txt`` (runtime per image,
CPU/GPU, extra data). Regions follow StructureMetric's rule (instances with
score >= thr, union of their masks or boxes; heatmap pixels > thr); the
default threshold is the shared
:data:`struct_det.evaluation.submission_preds.DEFAULT_SCORE_THR`.
"""
import argparse
import importlib.util
import os.path as osp
import pickle
import runpy
import sys

_REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
if osp.isfile(osp.join(_REPO, 'struct_det', '__init__.py')):
    sys.path.insert(0, _REPO)  # run from a checkout without installing

# struct_det/light_import.py, run by path: this tool needs numpy, OpenCV and
# SciPy only, not the torch/mmdet stack that ``import struct_det`` registers.
_LIGHT = runpy.run_path(
    osp.join(
        osp.dirname(importlib.util.find_spec('struct_det').origin),
        'light_import.py'))
_LIGHT['import_light']('struct_det.evaluation.submission_io',
                       'struct_det.evaluation.submission_preds',
                       'struct_det.utils.test_log')

# isort: off
from struct_det.evaluation.submission_io import (  # noqa: E402
    format_readme, split_keys, write_submission)
from struct_det.evaluation.submission_preds import (  # noqa: E402
    DEFAULT_SCORE_THR, predictions_from_results)
from struct_det.utils.test_log import runtime_from_test_log  # noqa: E402
# isort: on


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Saved predictions -> submission zip')
    parser.add_argument(
        'results',
        help='tools/test.py --out pickle giving the regions '
        '(and the scores unless --scores is given)')
    parser.add_argument(
        'out_file', nargs='?', metavar='OUT', help='submission .zip to write')
    parser.add_argument('--out', help='submission .zip to write (same as OUT)')
    parser.add_argument(
        '--scores', help='tools/test.py --out pickle of a score model')
    thr = parser.add_mutually_exclusive_group()
    thr.add_argument(
        '--score-thr',
        type=float,
        help='instance score threshold (>=) or heatmap threshold (>); default '
        f'{DEFAULT_SCORE_THR}, StructureMetric\'s default')
    thr.add_argument(
        '--calibration',
        metavar='CKPT',
        help='use the threshold calibrated on validation and stored with this '
        'checkpoint by StructureCalibrationHook')
    parser.add_argument(
        '--pred-source',
        choices=('auto', 'instances', 'heatmap', 'sem_seg'),
        default='auto',
        help='which output gives the regions')
    parser.add_argument(
        '--split-keys',
        '--ann-file',
        dest='split_keys',
        help='EvalMuse *_info.json or COCO file of the split; every one of '
        'its images must have a prediction')
    runtime = parser.add_mutually_exclusive_group(required=True)
    runtime.add_argument(
        '--runtime', type=float, help='seconds per image for the readme')
    runtime.add_argument(
        '--test-log',
        nargs='+',
        metavar='LOG',
        help='tools/test.py text log(s); their per-image times are summed '
        '(e.g. detector + score model)')
    parser.add_argument(
        '--batch-size',
        type=int,
        default=1,
        help='test batch size of the logged run(s)')
    parser.add_argument(
        '--cpu', action='store_true', help='inference ran on CPU')
    parser.add_argument(
        '--extra-data',
        action='store_true',
        help='training used data beyond the challenge data')
    parser.add_argument(
        '--description', default='', help='"Other description" line')
    parser.add_argument(
        '--full-resolution',
        action='store_true',
        help='keep masks at image size (default: the scorer\'s 512x512, which '
        'scores identically)')
    args = parser.parse_args(argv)
    if (args.out is None) == (args.out_file is None):
        parser.error('give the submission zip once, as OUT or --out')
    args.out = args.out or args.out_file
    return args


def _load_results(path: str) -> list:
    # Our own tools/test.py output (it holds tensors), so the plain unpickler.
    with open(path, 'rb') as f:
        results = pickle.load(f)
    if not isinstance(results, list):
        raise ValueError(f'{path}: expected the list of samples tools/test.py '
                         f'--out writes, got {type(results).__name__}')
    return results


def main(argv=None) -> None:
    args = parse_args(argv)
    try:
        score_thr = args.score_thr
        if args.calibration:
            # Reading a checkpoint needs torch and the registered package.
            _LIGHT['import_full']()
            from struct_det.engine.calibration import load_calibration
            calibration = load_calibration(args.calibration)
            if calibration is None:
                raise ValueError(
                    f'{args.calibration} stores no calibrated threshold; pass '
                    '--score-thr')
            score_thr = float(calibration['score_thr'])
            stale = (' (from a validation of earlier weights)'
                     if calibration['stale'] else '')
            print(f'score_thr {score_thr:g} calibrated at epoch '
                  f'{calibration.get("epoch")}, '
                  f'iter {calibration.get("iter")}{stale}')
        if score_thr is None:
            score_thr = DEFAULT_SCORE_THR
            print('no --score-thr or --calibration: using score_thr '
                  f'{score_thr:g}')
        preds = predictions_from_results(
            _load_results(args.results),
            _load_results(args.scores) if args.scores else None,
            score_thr=score_thr,
            pred_source=args.pred_source,
            full_resolution=args.full_resolution)
        runtime = args.runtime
        if runtime is None:
            runtime = sum(
                runtime_from_test_log(log, args.batch_size)
                for log in args.test_log)
        readme = format_readme(
            runtime,
            use_cpu=args.cpu,
            extra_data=args.extra_data,
            description=args.description)
        keys = split_keys(args.split_keys) if args.split_keys else None
        write_submission(args.out, preds, readme, keys=keys)
    except (ValueError, OSError) as err:
        sys.exit(f'error: {err}')
    print(f'wrote {args.out}: {len(preds)} images, score_thr {score_thr:g}, '
          f'runtime {runtime:.2f} s/image')


if __name__ == '__main__':
    main()
