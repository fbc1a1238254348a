"""Speed of Co-DINO against mmdet's DINO with the same backbone, neck,
transformer and query count (the same weights for the shared parts).

Inference: Co-DINO with ``eval_module='detr'`` runs no auxiliary head, so it
should cost what DINO costs (aim: ratio <= 1.05); it decodes as shipped (score
threshold 0.05, then soft-NMS, which mmdet's DINOHead does not do), and the row
with masks adds the instance-mask branch. The DETR classifier biases start at 0
instead of the focal-loss prior, so every query of the randomly initialised
models passes the threshold: soft-NMS sees the full 100 boxes and the mask head
what soft-NMS keeps (the ``boxes out`` column). Training: one optimizer step
(forward, backward, AdamW) with the auxiliary heads and positive-query groups,
against DINO's.

    python benchmarks/codetr_speed.py  # small preset, CPU
    python benchmarks/codetr_speed.py --preset r50 --img-size 1024 \
        --inference-only --warmup 1 --repeats 1 # real size, CPU
    python benchmarks/codetr_speed.py --preset r50 --img-size 1024 --device \
        cuda

Prints a markdown table; all numbers come from this process.
"""
import argparse
import copy
import logging
import os.path as osp
import statistics
import sys
import time
from typing import Callable, Dict, List

import numpy as np
import torch
from _common import add_device_args, apply_threads

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
R50_CONFIG = osp.join(REPO, 'configs', 'codetr',
                      'co-dino_r50_8xb2-lsj-1024-12e_evalmuse-structure.py')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument(
        '--preset',
        choices=['small', 'r50'],
        default='small',
        help="'r50': the R50 config as is (ResNet-50, 6+6 layers, 900 "
        "queries); 'small': ResNet-18, 2+2 layers, 300 queries")
    parser.add_argument('--img-size', type=int, default=256)
    parser.add_argument('--batch-size', type=int, default=1)
    parser.add_argument(
        '--num-gts',
        type=int,
        default=5,
        help='distortion boxes per training image')
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=2)
    add_device_args(parser)
    parser.add_argument(
        '--inference-only',
        action='store_true',
        help='time inference only (no training steps)')
    return parser.parse_args(argv)


def codino_cfg(preset: str):
    from mmengine.config import Config
    cfg = Config.fromfile(R50_CONFIG).model
    # compare the models, not LSJ's handling of padding
    cfg.use_lsj = False
    cfg.backbone.init_cfg = None
    # the shipped decoding (top 100, score > 0.05, soft-NMS) stays
    if preset == 'small':
        cfg.num_queries = 300
        cfg.backbone.update(depth=18)
        cfg.neck.in_channels = [64, 128, 256, 512]
        cfg.encoder.num_layers = 2
        cfg.decoder.num_layers = 2
    return cfg


def make_batch(batch_size: int, size: int, num_gts: int, device: str):
    from mmdet.structures import DetDataSample
    from mmdet.structures.mask import BitmapMasks
    from mmengine.structures import InstanceData
    gen = torch.Generator().manual_seed(0)
    inputs = torch.rand((batch_size, 3, size, size), generator=gen)
    samples = []
    for img_id in range(batch_size):
        sample = DetDataSample(
            metainfo=dict(
                img_id=img_id,
                img_shape=(size, size),
                ori_shape=(size, size),
                pad_shape=(size, size),
                batch_input_shape=(size, size),
                scale_factor=(1., 1.)))
        xy = torch.rand((num_gts, 2), generator=gen) * size * 0.6
        wh = size * (0.05 + 0.3 * torch.rand((num_gts, 2), generator=gen))
        bboxes = torch.cat([xy, xy + wh], 1).clamp(max=size - 1).round()
        masks = np.zeros((num_gts, size, size), dtype=np.uint8)
        for k, (x1, y1, x2, y2) in enumerate(bboxes.long().tolist()):
            masks[k, y1:y2, x1:x2] = 1
        sample.gt_instances = InstanceData(
            bboxes=bboxes.to(device),
            labels=torch.zeros(num_gts, dtype=torch.long, device=device),
            masks=BitmapMasks(masks, size, size))
        samples.append(sample)
    return inputs.to(device), samples


def timed(fns: Dict[str, Callable[[], None]], warmup: int, repeats: int,
          device: str) -> Dict[str, float]:
    """Median seconds of every function over ``repeats`` rounds.

    The functions take turns within each round, in a rotating order, so a
    busy (shared) machine slows them alike and the ratios stay meaningful.
    """

    def sync():
        if device.startswith('cuda'):
            torch.cuda.synchronize()

    for _ in range(warmup):
        for fn in fns.values():
            fn()
    times: Dict[str, List[float]] = {name: [] for name in fns}
    names = list(fns)
    for round_idx in range(repeats):
        # rotate the order: no model always runs first (after another's
        # allocations) or last
        shift = round_idx % len(names)
        for name in names[shift:] + names[:shift]:
            fn = fns[name]
            sync()
            start = time.perf_counter()
            fn()
            sync()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(ts) for name, ts in times.items()}


def main(argv=None) -> int:
    args = parse_args(argv)
    apply_threads(args)
    from mmdet.registry import MODELS
    from mmengine.logging import MMLogger
    from mmengine.registry import init_default_scope

    import struct_det.models.detectors  # noqa: F401
    from struct_det.testing import dino_counterpart_cfg
    init_default_scope('mmdet')

    cfg = codino_cfg(args.preset)
    dino_cfg = dino_counterpart_cfg(cfg)
    torch.manual_seed(0)
    codino = MODELS.build(cfg)
    logger = MMLogger.get_current_instance()
    logger.setLevel(logging.WARNING)  # init_weights logs every parameter
    codino.init_weights()
    dino = MODELS.build(dino_cfg)
    for branch in codino.bbox_head.cls_branches:
        torch.nn.init.zeros_(branch.bias)
    missing, _ = dino.load_state_dict(codino.state_dict(), strict=False)
    assert not missing, missing
    codino_boxes = copy.deepcopy(codino)
    for head in codino_boxes.roi_head:
        head.mask_head = None
        head.mask_roi_extractor = None
    models = {
        'DINO (mmdet)': dino,
        'Co-DINO, boxes': codino_boxes,
        'Co-DINO, boxes + masks': codino,
    }
    for model in models.values():
        model.to(args.device)

    inputs, samples = make_batch(args.batch_size, args.img_size, args.num_gts,
                                 args.device)

    num_boxes = {}

    def predictor(name, model):

        def predict():
            with torch.no_grad():
                results = model.predict(inputs, copy.deepcopy(samples))
            num_boxes[name] = len(results[0].pred_instances)

        return predict

    def trainer(model):
        optim = torch.optim.AdamW(model.parameters(), lr=1e-5)

        def step():
            losses = model.loss(inputs, copy.deepcopy(samples))
            total = sum(
                v.sum() for k, loss in losses.items() if 'loss' in k
                for v in (loss if isinstance(loss, (list, tuple)) else [loss]))
            optim.zero_grad()
            total.backward()
            optim.step()

        return step

    for model in models.values():
        model.eval()
    infer = timed({
        name: predictor(name, m)
        for name, m in models.items()
    }, args.warmup, args.repeats, args.device)
    infer = {name: t / args.batch_size for name, t in infer.items()}
    train = {}
    if not args.inference_only:
        for model in models.values():
            model.train()
        train = timed({
            name: trainer(m)
            for name, m in models.items()
        }, args.warmup, args.repeats, args.device)

    base_infer = infer['DINO (mmdet)']
    device = args.device if args.device != 'cpu' else \
        f'cpu ({torch.get_num_threads()} threads)'
    print(f'Co-DINO vs DINO, preset {args.preset} ({cfg.num_queries} '
          f'queries), {args.img_size} px, batch {args.batch_size}, '
          f'{args.num_gts} GT boxes per image, {device}, median of '
          f'{args.repeats}\n')
    print('| model | boxes out | inference ms/img | ratio | train step ms '
          '| ratio |')
    print('|---|---:|---:|---:|---:|---:|')
    for name in models:
        row = [
            name,
            str(num_boxes[name]), f'{1e3 * infer[name]:.1f}',
            f'{infer[name] / base_infer:.3f}'
        ]
        if name in train:
            base_train = train['DINO (mmdet)']
            row += [
                f'{1e3 * train[name]:.1f}', f'{train[name] / base_train:.3f}'
            ]
        else:
            row += ['-', '-']
        print('| ' + ' | '.join(row) + ' |')
    return 0


if __name__ == '__main__':
    sys.exit(main())
