"""Predicts distortion regions and structure scores for images, a folder or a
list.

Example:
    python tools/infer.py $CONFIG data/evalmuse_sample/test/images \
        --out-dir results/infer [--checkpoint C] [--tta] [--score-thr 0.3]

with ``CONFIG`` a joint config (e.g. the tiny Mask2Former + LoDa one under
``configs/tiny/``). Writes results.json (per image: score, regions, mask area)
and one PNG overlay per image.
"""
import argparse
import os
import os.path as osp
import sys

import cv2
from mmengine.config import Config, DictAction

from struct_det.apis import (StructureInferencer, result_to_json,
                             write_results_json)
from struct_det.visualization import draw_structure_overlay


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Structure inference with '
                                     'overlays')
    parser.add_argument(
        'config', help='model config (detector, LoDa or joint)')
    parser.add_argument(
        'inputs', nargs='+', help='images, folders or .txt lists')
    parser.add_argument('--checkpoint', help='model weights')
    parser.add_argument('--out-dir', default='results/infer')
    parser.add_argument('--device', default='cpu')
    parser.add_argument(
        '--score-thr',
        type=float,
        default=None,
        help='instance threshold (default: calibrated, else 0 for a joint '
        'model, else 0.3)')
    parser.add_argument(
        '--tta', action='store_true', help='test-time augmentation')
    parser.add_argument('--no-overlay', action='store_true', help='JSON only')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override config settings, key=value pairs')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    inferencer = StructureInferencer(
        cfg,
        args.checkpoint,
        device=args.device,
        score_thr=args.score_thr,
        tta=args.tta)
    os.makedirs(args.out_dir, exist_ok=True)
    results = []
    for index, result in enumerate(inferencer(args.inputs)):
        # Only the JSON part is kept: full-size masks of a large folder would
        # pile up.
        results.append(result_to_json(result))
        if args.no_overlay:
            continue
        rgb = inferencer.read_image(result['image'])[..., ::-1]
        boxes = [r['bbox'] for r in result['regions']]
        overlay = draw_structure_overlay(
            rgb,
            result['mask'],
            boxes=boxes if boxes else None,
            box_scores=[r['score'] for r in result['regions']],
            score=result['score'])
        # The index keeps same-named images of different folders apart.
        stem = osp.splitext(osp.basename(result['image']))[0]
        overlay_file = osp.join(args.out_dir, f'{index:05d}_{stem}.png')
        results[-1]['overlay'] = overlay_file
        cv2.imwrite(overlay_file, overlay[..., ::-1])
    write_results_json(results, osp.join(args.out_dir, 'results.json'))
    print(f'{len(results)} images -> {args.out_dir}/results.json')
    return 0


if __name__ == '__main__':
    sys.exit(main())
