"""Write a gt.pkl (512x512 consensus masks + MOS) from one of our COCO files.

Example::

    python tools/misc/make_gt_pkl.py \
        data/evalmuse_structure/annotations/evalmuse_val.json \
        data/evalmuse_structure/annotations/gt_val.pkl

The consensus mask of an image is the union of its instances' segmentations,
brought to 512x512 exactly as StructureMetric brings GT masks there; the
``mos`` of each image record is the score
(:func:`struct_det.datasets.gt_masks.gt_from_coco`). Score a held-out split
with ``tools/evaluate_submission.py PRED gt_val.pkl``.
"""
import argparse
import importlib.util
import os.path as osp
import runpy
import sys

_REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if osp.isfile(osp.join(_REPO, 'struct_det', '__init__.py')):
    sys.path.insert(0, _REPO)  # run from a checkout without installing

# struct_det/light_import.py, run by path: this tool needs numpy, OpenCV and
# SciPy only, not the torch/mmdet stack that ``import struct_det`` registers.
_LIGHT = runpy.run_path(
    osp.join(
        osp.dirname(importlib.util.find_spec('struct_det').origin),
        'light_import.py'))
_LIGHT['import_light']('struct_det.datasets.gt_masks',
                       'struct_det.evaluation.submission_io')

from struct_det.datasets.gt_masks import gt_from_coco  # noqa: E402
from struct_det.evaluation.submission_io import save_pickle  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='COCO file with mos -> gt.pkl')
    parser.add_argument(
        'ann_file', help='COCO JSON written by the EvalMuse converter')
    parser.add_argument(
        'out_file', nargs='?', metavar='OUT', help='gt.pkl to write')
    parser.add_argument('--out', help='gt.pkl to write (same as OUT)')
    args = parser.parse_args(argv)
    if (args.out is None) == (args.out_file is None):
        parser.error('give the output gt.pkl once, as OUT or --out')
    args.out = args.out or args.out_file
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    try:
        gts = gt_from_coco(args.ann_file)
    except (ValueError, KeyError, OSError) as err:
        sys.exit(f'error: {err}')
    save_pickle(gts, args.out)
    clean = sum(1 for v in gts.values() if not v['pred_area'].any())
    print(f'wrote {args.out}: {len(gts)} images ({clean} without distortion)')


if __name__ == '__main__':
    main()
