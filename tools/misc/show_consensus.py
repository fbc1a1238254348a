"""Draws images of a converted COCO file with their consensus masks on one
sheet.

Example:
    python tools/misc/show_consensus.py \
        data/evalmuse_sample/annotations/evalmuse_train.json \
        data/evalmuse_sample/train/images results/consensus.png --num 12
"""
import argparse
import os
import os.path as osp
import sys

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from struct_det.visualization import draw_structure_overlay, tile_images


def consensus_from_coco(coco: dict, image: dict) -> np.ndarray:
    """Union of one image's instance masks (= its consensus mask)."""
    mask = np.zeros((image['height'], image['width']), np.uint8)
    for ann in coco['annotations']:
        if ann['image_id'] == image['id']:
            mask |= mask_utils.decode(ann['segmentation']).astype(np.uint8)
    return mask


def main(argv=None) -> int:
    import json
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('ann_file')
    parser.add_argument('img_dir')
    parser.add_argument('out', help='output PNG')
    parser.add_argument(
        '--num', type=int, default=12, help='images on the sheet')
    parser.add_argument('--columns', type=int, default=4)
    args = parser.parse_args(argv)
    with open(args.ann_file, encoding='utf-8') as f:
        coco = json.load(f)
    panels = []
    for image in coco['images'][:args.num]:
        path = osp.join(args.img_dir, image['file_name'])
        bgr = cv2.imread(path)
        if bgr is None:
            print(f'error: cannot read {path}', file=sys.stderr)
            return 1
        mos = image.get('mos')
        panels.append(
            draw_structure_overlay(
                bgr[..., ::-1],
                consensus_from_coco(coco, image),
                title=None if mos is None else f'MOS {mos:.2f}'))
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    cv2.imwrite(args.out, tile_images(panels, columns=args.columns)[..., ::-1])
    print(f'wrote {args.out} ({len(panels)} images)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
