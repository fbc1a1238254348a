"""Speed of the EvalMuse-Structure -> COCO converter.

Builds an info file of N records (default 10,000, the size of the real
training set) with EvalMuse-like regions (0-3 distortions, three simulated
annotators, rectangles and polygons) on images with the real size mix
(~94% 1024x1024, plus 1024x576, 576x1024, 1024x768, 768x1024, 512x512).
A handful of real-content JPEGs is written once and hard-linked under every
key, so the headers and file sizes are realistic without 10,000 encodes.

Reports records/second of the whole conversion (JSON load, validation,
header-only size read, consensus masks, instances + RLE) and compares with
the same conversion reading sizes by fully decoding each image (the
baseline), in the same process. Prints a markdown table.

A second table weighs the converter's own RLE encoder (runs of the labelled
window, ``rasterize._instances_in_window``) against pycocotools
(``mask.encode/area/toBbox`` of one full-size mask per component), as whole
conversions of the bundled sample data (``make data``) and of the synthetic
set; both must give identical COCO dicts.

Usage::

    python benchmarks/converter_speed.py [--num 10000] [--baseline-num 1000]
        [--sample data/evalmuse_sample] [--repeat 3]
"""
import argparse
import json
import os
import os.path as osp
import shutil
import sys
import tempfile
import time

import cv2
import numpy as np
import pycocotools.mask as mask_utils

_REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
if osp.isfile(osp.join(_REPO, 'struct_det', '__init__.py')):
    sys.path.insert(0, _REPO)

from struct_det.datasets import converter, rasterize  # noqa: E402 isort:skip
from struct_det.testing.sample_data import (  # noqa: E402 isort:skip
    PlantedDistortion, render_sample, simulate_annotations, simulate_mos)

SIZES = [((1024, 1024), 0.94), ((1024, 576), 0.015), ((576, 1024), 0.015),
         ((1024, 768), 0.01), ((768, 1024), 0.01), ((512, 512), 0.01)]


def make_dataset(root: str, num: int, seed: int = 0) -> str:
    """Write ``num`` records + hard-linked images; return the info path."""
    rng = np.random.default_rng(seed)
    img_dir = osp.join(root, 'images')
    os.makedirs(img_dir)
    templates = []
    for i, ((w, h), _) in enumerate(SIZES):
        # real-looking content so that full decoding costs what it would
        img, _, _ = render_sample(rng, w, h, num_distortions=2)
        path = osp.join(root, f'template_{i}.jpg')
        cv2.imwrite(path, img, [cv2.IMWRITE_JPEG_QUALITY, 95])
        templates.append(path)
    probs = np.array([p for _, p in SIZES])
    choice = rng.choice(len(SIZES), size=num, p=probs / probs.sum())
    info = {}
    for n in range(num):
        key = f'{rng.integers(1 << 62):016x}{n:016x}'
        dst = osp.join(img_dir, f'{key}.jpg')
        try:
            os.link(templates[choice[n]], dst)
        except OSError:  # e.g. file systems without hard links
            shutil.copyfile(templates[choice[n]], dst)
        w, h = SIZES[choice[n]][0]
        distortions = []
        for _ in range(int(rng.choice(4, p=[0.2, 0.4, 0.25, 0.15]))):
            s = rng.uniform(0.06, 0.25) * min(w, h)
            x, y = rng.uniform(0, w - s), rng.uniform(0, h - s)
            t = np.linspace(0, 2 * np.pi, 10, endpoint=False)
            poly = np.stack(
                [x + s / 2 + s / 2 * np.cos(t), y + s / 2 + s / 2 * np.sin(t)],
                1)
            box = (int(x), int(y), int(x + s), int(y + s))
            distortions.append(PlantedDistortion('swirl', box, poly))
        info[key] = {
            'prompt_en': f'prompt {n}',
            'mos': simulate_mos(rng, distortions, w, h),
            'bbox_info': simulate_annotations(rng, distortions, w, h),
        }
    path = osp.join(root, 'train_info.json')
    with open(path, 'w') as f:
        json.dump(info, f)
    return path


def pycocotools_instances(window: np.ndarray, x0: int, y0: int, height: int,
                          width: int) -> list:
    """``rasterize._instances_in_window`` through pycocotools.

    Same components in the same order, each encoded with
    ``mask.encode/area/toBbox`` from a full-size Fortran-order mask.
    """
    win_t = (cv2.transpose(np.ascontiguousarray(window)) != 0).view(np.uint8)
    num, labels = cv2.connectedComponents(
        win_t, connectivity=8, ltype=cv2.CV_32S)
    win_w, win_h = labels.shape
    instances = []
    for i in range(1, num):
        # a C-order (W, H) array is the Fortran-order (H, W) mask
        full_t = np.zeros((width, height), dtype=np.uint8)
        full_t[x0:x0 + win_w, y0:y0 + win_h] = labels == i
        rle = mask_utils.encode(full_t.T)
        instances.append({
            'segmentation': {
                'size': [height, width],
                'counts': rle['counts'].decode('ascii')
            },
            'bbox': [int(v) for v in mask_utils.toBbox(rle)],
            'area': int(mask_utils.area(rle)),
        })
    return instances


def time_rle_encoders(info_path: str, img_dir: str, repeat: int) -> tuple:
    """Best-of-``repeat`` seconds of a whole conversion with each encoder.

    Returns:
        tuple[float, float, dict]: Seconds with ours, with pycocotools, and the
            COCO dict (identical for both, checked).
    """
    ours = rasterize._instances_in_window
    best = {}
    results = {}
    for name, impl in (('ours', ours), ('pycocotools', pycocotools_instances)):
        rasterize._instances_in_window = impl
        try:
            for _ in range(repeat):
                coco, t = timed(
                    converter.convert_evalmuse_structure,
                    info_path,
                    img_dir,
                    progress=False)
                best[name] = min(best.get(name, t), t)
        finally:
            rasterize._instances_in_window = ours
        results[name] = coco
    if results['ours'] != results['pycocotools']:
        raise AssertionError('the two RLE encoders disagree')
    return best['ours'], best['pycocotools'], results['ours']


def full_decode_size(path: str):
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        raise OSError(f'cannot decode {path}')
    return img.shape[1], img.shape[0]


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--num', type=int, default=10000)
    parser.add_argument(
        '--baseline-num',
        type=int,
        default=1000,
        help='records for the full-decode baseline (slow)')
    parser.add_argument(
        '--sample',
        default=osp.join(_REPO, 'data', 'evalmuse_sample'),
        help='the bundled sample (make data); skipped if missing')
    parser.add_argument(
        '--repeat',
        type=int,
        default=3,
        help='best of N runs for the RLE comparison')
    args = parser.parse_args()

    root = tempfile.mkdtemp(prefix='converter_speed_')
    try:
        info_path, t_make = timed(make_dataset, root, args.num)
        img_dir = osp.join(root, 'images')
        with open(info_path) as f:
            info = json.load(f)
        keys = list(info)
        paths = [osp.join(img_dir, f'{k}.jpg') for k in keys]

        # warm the page cache so both variants read from memory
        for p in paths[:args.baseline_num]:
            with open(p, 'rb') as f:
                f.read()

        rows = []
        _, t_hdr = timed(lambda: [converter.read_image_size(p) for p in paths])
        nb = min(args.baseline_num, len(paths))
        _, t_dec = timed(lambda: [full_decode_size(p) for p in paths[:nb]])
        rows.append(
            ('image size: header only (converter)', len(paths), t_hdr, None))
        rows.append(('image size: full decode (baseline)', nb, t_dec, None))

        coco, t_conv = timed(
            converter.convert_evalmuse_structure,
            info_path,
            img_dir,
            progress=False)
        out = osp.join(root, 'coco.json')
        _, t_dump = timed(converter.dump_coco, coco, out)

        sub = {k: info[k] for k in keys[:nb]}
        sub_path = osp.join(root, 'sub_info.json')
        with open(sub_path, 'w') as f:
            json.dump(sub, f)
        real = converter.read_image_size
        converter.read_image_size = full_decode_size
        try:
            _, t_base = timed(
                converter.convert_evalmuse_structure,
                sub_path,
                img_dir,
                progress=False)
        finally:
            converter.read_image_size = real
        _, t_sub = timed(
            converter.convert_evalmuse_structure,
            sub_path,
            img_dir,
            progress=False)

        rows.append(('convert (header sizes)', len(keys), t_conv, None))
        rows.append(('convert + write JSON', len(keys), t_conv + t_dump, None))
        rows.append(('convert, same subset (header sizes)', nb, t_sub, None))
        rows.append(
            ('convert, same subset (full decode, baseline)', nb, t_base, None))

        rate = {name: n / t for name, n, t, _ in rows}
        base_size = rate['image size: full decode (baseline)']
        base_conv = rate['convert, same subset (full decode, baseline)']
        print(f'\nEvalMuse -> COCO converter, {len(keys)} records, '
              f'{len(coco["annotations"])} instances, '
              f'{osp.getsize(out) / 1e6:.1f} MB JSON (data generation '
              f'{t_make:.1f} s, not timed below)\n')
        print('| stage | records | seconds | records/s | vs baseline |')
        print('|---|---:|---:|---:|---:|')
        for name, n, t, _ in rows:
            base = base_size if name.startswith('image size') else base_conv
            print(f'| {name} | {n} | {t:.2f} | {n / t:,.0f} | '
                  f'{(n / t) / base:.1f}x |')

        sets = [('synthetic set', info_path, img_dir)]
        sample_info = osp.join(args.sample, 'train', 'train_info.json')
        if osp.isfile(sample_info):
            sets.insert(0, ('sample data (make data)', sample_info,
                            osp.join(args.sample, 'train', 'images')))
        print('\nRLE encoder, whole conversion (best of '
              f'{args.repeat}; identical outputs checked)\n')
        print('| data | records | instances | ours s | pycocotools s | '
              'ours vs pycocotools |')
        print('|---|---:|---:|---:|---:|---:|')
        for name, path, images in sets:
            t_ours, t_coco, result = time_rle_encoders(path, images,
                                                       args.repeat)
            print(f'| {name} | {len(result["images"])} | '
                  f'{len(result["annotations"])} | {t_ours:.2f} | '
                  f'{t_coco:.2f} | {t_coco / t_ours:.2f}x |')
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == '__main__':
    main()
