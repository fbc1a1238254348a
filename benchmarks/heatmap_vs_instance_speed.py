"""Inference speed of the heatmap path (mmseg segmentor) against the instance
path (the detectors a user would pick instead) on the bundled sample's val
images.

Two measurements, each as a ratio against the instance path's Co-DINO:

* model only: ``test_step`` on batches prepared beforehand by each config's own
  test pipeline (plain, and under each config's ``--tta``), ms per image,
  median of repeats;
* whole process: ``tools/test.py CONFIG [--tta]`` as a user runs it (start-up,
  data loading, metric), wall-clock seconds over the split, per image.

Weights are random (the speed of these models does not depend on them, except
the instance path's mask head, which then sees every query above the score
threshold: its worst case). All numbers come from this machine and process.

    python benchmarks/heatmap_vs_instance_speed.py [--repeats 3] \
        [--no-process]
"""
import argparse
import contextlib
import copy
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import tempfile
import time

import torch

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

from mmcv.transforms import Compose  # noqa: E402
from mmdet.utils import get_test_pipeline_cfg  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.dataset import pseudo_collate  # noqa: E402
from mmengine.registry import MODELS, DefaultScope  # noqa: E402

import struct_det  # noqa: E402,F401
from struct_det.utils import apply_tta  # noqa: E402

# (row label, config, extra --cfg-options for a checkpoint-less tools/test.py
# run)
PATHS = [
    ('instance: Co-DINO (tiny, demo)',
     'configs/tiny/co-dino_tiny-demo_evalmuse-sample.py', []),
    ('instance: Mask2Former (tiny)',
     'configs/tiny/mask2former_tiny_evalmuse-sample.py', []),
    ('heatmap: ViT + U-Net + score head (tiny)',
     'configs/tiny/heatmap-score_tiny_evalmuse-sample.py', [
         'test_evaluator.0.score_thr=0.5', 'test_evaluator.2.score_thr=0.5',
         'test_evaluator.2.out_file={tmp}/heatmap.zip'
     ]),
]
ANCHOR = 0


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--num-images',
        type=int,
        default=20,
        help='val images for the model-only timing')
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument(
        '--no-process',
        action='store_true',
        help='skip the whole-process tools/test.py timing')
    return parser.parse_args(argv)


def _model_ms_per_image(config: str, tta: bool, num_images: int,
                        repeats: int) -> float:
    cfg = Config.fromfile(osp.join(REPO, config))
    if tta:
        cfg = apply_tta(cfg, config)
    scope = cfg.get('default_scope', 'mmdet')
    dataset_cfg = copy.deepcopy(cfg.test_dataloader.dataset)
    while 'dataset' in dataset_cfg:
        dataset_cfg = dataset_cfg['dataset']
    with DefaultScope.overwrite_default_scope(scope):
        from mmengine.registry import DATASETS
        dataset_cfg['pipeline'] = []
        dataset_cfg['data_root'] = osp.join(REPO, dataset_cfg['data_root'])
        # pycocotools prints to stdout
        with contextlib.redirect_stdout(sys.stderr):
            dataset = DATASETS.build(dataset_cfg)
        pipeline = Compose(list(get_test_pipeline_cfg(cfg)))
        model = MODELS.build(copy.deepcopy(cfg.model))
        model.eval()
        batches = [
            pseudo_collate([pipeline(copy.deepcopy(dataset[i]))])
            for i in range(min(num_images, len(dataset)))
        ]
        times = []
        with torch.no_grad():
            model.test_step(batches[0])  # warm-up
            for _ in range(repeats):
                start = time.perf_counter()
                for batch in batches:
                    model.test_step(batch)
                times.append((time.perf_counter() - start) / len(batches))
    return 1000 * statistics.median(times)


def _process_s_per_image(config: str, tta: bool, options: list,
                         num_val: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        args = [sys.executable, 'tools/test.py', config, '--work-dir', tmp]
        if tta:
            args.append('--tta')
        opts = [o.format(tmp=tmp) for o in options]
        if opts:
            args += ['--cfg-options', *opts]
        start = time.perf_counter()
        proc = subprocess.run(args, cwd=REPO, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(f'{" ".join(args)} '
                               f'failed:\n{proc.stderr[-3000:]}')
    return elapsed / num_val


def main(argv=None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    os.environ['OMP_NUM_THREADS'] = str(args.threads)
    with open(
            osp.join(REPO, 'data', 'evalmuse_sample', 'annotations',
                     'evalmuse_val.json')) as f:
        num_val = len(json.load(f)['images'])
    rows = []
    for label, config, options in PATHS:
        row = [label]
        for tta in (False, True):
            row.append(
                _model_ms_per_image(config, tta, args.num_images,
                                    args.repeats))
        if not args.no_process:
            for tta in (False, True):
                row.append(_process_s_per_image(config, tta, options, num_val))
        rows.append(row)
        print(f'measured {label}', file=sys.stderr)
    anchor = rows[ANCHOR]
    head = ['path', 'model ms/img', 'ratio', 'model ms/img, TTA', 'ratio']
    if not args.no_process:
        head += [
            'tools/test.py s/img', 'ratio', 'tools/test.py --tta s/img',
            'ratio'
        ]
    print(f'{num_val} val images of the sample, {args.threads} thread(s); '
          f'ratios against {anchor[0]}')
    print('| ' + ' | '.join(head) + ' |')
    print('|---|' + '---:|' * (len(head) - 1))
    for row in rows:
        cells = [row[0]]
        for i, value in enumerate(row[1:], start=1):
            fmt = '{:.1f}' if i <= 2 else '{:.3f}'
            cells += [fmt.format(value), f'{value / anchor[i]:.2f}']
        print('| ' + ' | '.join(cells) + ' |')
    return 0


if __name__ == '__main__':
    sys.exit(main())
