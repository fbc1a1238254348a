"""Speed of the instance-mask TTA merge (``DetMaskTTAModel``'s core).

One image at full size (default 1024x1024), V views (default 6: 3 scales x 2
flips) of K instances each (default 20, what survives ``score_thr``): every
view sees the same distortions with a few pixels of jitter. Times the merge of
all V*K candidates by mask NMS and by mask voting, against the baseline a first
implementation would use: greedy mask NMS that computes each needed mask IoU
pair by pair (``(a & b).sum() / (a | b).sum()``). Same inputs, same process;
the results of our mask NMS and the baseline are checked to be identical.

    python benchmarks/det_mask_tta_merge.py
    python benchmarks/det_mask_tta_merge.py --size 512 --views 4 --per-view \
        10
    python benchmarks/det_mask_tta_merge.py --device cuda

Prints a markdown table (median of --repeats runs).
"""
import argparse
import statistics
import time
from typing import Callable, List

import torch
from mmengine.structures import InstanceData

from struct_det.models.tta.instance_merge import (masks_to_boxes,
                                                  merge_instances)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--size', type=int, default=1024)
    parser.add_argument('--views', type=int, default=6)
    parser.add_argument('--per-view', type=int, default=20)
    parser.add_argument('--repeats', type=int, default=3)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args(argv)


def make_candidates(size: int, views: int, per_view: int, device: str,
                    seed: int) -> InstanceData:
    """Jittered copies of ``per_view`` rectangles-with-holes, one per view."""
    gen = torch.Generator().manual_seed(seed)
    centers = torch.randint(
        size // 8, size - size // 8, (per_view, 2), generator=gen)
    halves = torch.randint(
        size // 40, size // 10, (per_view, 2), generator=gen)
    ys = torch.arange(size).view(1, -1, 1)
    xs = torch.arange(size).view(1, 1, -1)
    masks, scores = [], []
    for _ in range(views):
        jitter = torch.randint(-4, 5, (per_view, 2), generator=gen)
        cy = (centers[:, 0] + jitter[:, 0]).view(-1, 1, 1)
        cx = (centers[:, 1] + jitter[:, 1]).view(-1, 1, 1)
        hy, hx = halves[:, 0].view(-1, 1, 1), halves[:, 1].view(-1, 1, 1)
        outer = ((ys - cy).abs() < hy) & ((xs - cx).abs() < hx)
        inner = ((ys - cy).abs() < hy // 3) & ((xs - cx).abs() < hx // 3)
        masks.append(outer & ~inner)
        scores.append(torch.rand(per_view, generator=gen) * 0.9 + 0.05)
    inst = InstanceData()
    inst.masks = torch.cat(masks).to(device)
    inst.scores = torch.cat(scores).to(device)
    inst.bboxes = masks_to_boxes(inst.masks)
    inst.labels = torch.zeros(
        len(inst.scores), dtype=torch.long, device=device)
    return inst


def baseline_mask_nms(inst: InstanceData, iou_thr: float) -> torch.Tensor:
    """Greedy mask NMS, IoU pair by pair as needed (the straightforward way).
    """
    order = torch.argsort(inst.scores, descending=True).tolist()
    keep: List[int] = []
    for idx in order:
        mask = inst.masks[idx]
        duplicate = False
        for kept in keep:
            other = inst.masks[kept]
            union = (mask | other).sum().item()
            inter = (mask & other).sum().item()
            if union > 0 and inter / union > iou_thr:
                duplicate = True
                break
        if not duplicate:
            keep.append(idx)
    return torch.tensor(keep)


def timed(fn: Callable, repeats: int, device: str) -> float:
    times = []
    for _ in range(repeats):
        if device.startswith('cuda'):
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.startswith('cuda'):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None) -> None:
    args = parse_args(argv)
    inst = make_candidates(args.size, args.views, args.per_view, args.device,
                           args.seed)
    groups = torch.arange(
        args.views, device=args.device).repeat_interleave(args.per_view)

    ours = merge_instances(inst, mode='mask_nms', iou_thr=0.5)
    reference = inst[baseline_mask_nms(inst, 0.5).to(args.device)]
    assert torch.equal(ours.masks, reference.masks), 'mask NMS disagrees'

    base_t = timed(lambda: baseline_mask_nms(inst, 0.5), args.repeats,
                   args.device)
    rows = [('baseline: greedy mask NMS, pairwise '
             'IoU', base_t, len(reference))]
    for label, kwargs in [
        ('mask_nms (exact)', dict(mode='mask_nms')),
        ('mask_nms, mask_iou_stride=2',
         dict(mode='mask_nms', mask_iou_stride=2)),
        ('mask_vote (exact)', dict(mode='mask_vote', groups=groups)),
        ('mask_vote, mask_iou_stride=2',
         dict(mode='mask_vote', groups=groups, mask_iou_stride=2)),
        ('nms (box IoU)', dict(mode='nms')),
    ]:
        result = merge_instances(inst, iou_thr=0.5, **kwargs)
        sec = timed(lambda: merge_instances(inst, iou_thr=0.5, **kwargs),
                    args.repeats, args.device)
        rows.append((label, sec, len(result)))

    print(f'\n{args.views} views x {args.per_view} instances, '
          f'{args.size}x{args.size}, device {args.device}, median of '
          f'{args.repeats}\n')
    print('| merge | time (ms) | speed-up vs baseline | instances out |')
    print('|---|---:|---:|---:|')
    for label, sec, num in rows:
        print(f'| {label} | {sec * 1e3:.1f} | {base_t / sec:.1f}x | {num} |')


if __name__ == '__main__':
    main()
