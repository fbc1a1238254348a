"""Training step of LoDa against full fine-tuning of the same ViT on the same
batch.

LoDa trains ~8.9M adapter parameters around a frozen ViT-B/16 and a frozen
ResNet-50; the baseline fine-tunes every parameter of the same ViT (with a
linear score head). Both take one AdamW step (forward, backward, update) with
the norm-in-norm loss on the same random batch. Reported: median step time and
peak memory of the step, and their ratios to the baseline.

Memory: on CUDA the peak of ``torch.cuda.max_memory_allocated`` above what was
allocated before the steps; on CPU the growth of the peak resident set size
over the process's size before the steps (each setting runs in its own process,
so peaks do not mix). Both include gradients and AdamW's state, which is where
full fine-tuning pays.

    python benchmarks/loda_train_step.py  # ViT-B/16 + R50, CPU
    python benchmarks/loda_train_step.py --preset tiny  # seconds, smoke test
    python benchmarks/loda_train_step.py --preset winner --device cuda \
        --batch-size 8

Prints a markdown table; all numbers come from this invocation.
"""
import argparse
import multiprocessing as mp
import os
import os.path as osp
import resource
import statistics
import sys
import time
from typing import Dict, List

from _common import add_device_args, apply_threads

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))

PRESETS = {
    # The paper's setting.
    'paper':
    dict(
        vit=dict(model_name='vit_base_patch16_224.augreg2_in21k_ft_in1k'),
        cnn=dict(model_name='resnet50'),
        img_size=224),
    # The structure-track winner's setting (GPU only in practice).
    'winner':
    dict(
        vit=dict(model_name='vit_large_patch14_reg4_dinov2.lvd142m'),
        cnn=dict(model_name='resnet50'),
        img_size=518),
    # The tiny CPU config's models.
    'tiny':
    dict(
        vit=dict(
            model_name='vit_tiny_patch16_224',
            img_size=112,
            depth=4,
            embed_dim=96,
            num_heads=3),
        cnn=dict(model_name='resnet10t'),
        img_size=112,
        loda=dict(latent_dim=32, grid_size=4)),
}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--preset', choices=sorted(PRESETS), default='paper')
    parser.add_argument('--batch-size', type=int, default=4)
    parser.add_argument('--steps', type=int, default=3, help='timed steps')
    parser.add_argument('--warmup', type=int, default=1)
    add_device_args(parser)
    parser.add_argument(
        '--with-cp',
        action='store_true',
        help='also time LoDa with gradient checkpointing')
    return parser.parse_args(argv)


def _current_rss_bytes() -> int:
    with open('/proc/self/statm') as statm:
        return int(statm.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')


def _peak_rss_bytes() -> int:
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _build(setting: str, preset: dict, device):
    """The model, its optimizer wrapper and a ``step(batch)`` closure."""
    import torch
    import torch.nn as nn
    from mmengine.optim import build_optim_wrapper

    from struct_det.models.losses import norm_in_norm_loss
    from struct_det.models.regressors import LoDa, build_timm_vit

    optim_cfg = dict(optimizer=dict(type='AdamW', lr=3e-4, weight_decay=0.01))
    if setting.startswith('loda'):
        model = LoDa(
            vit=dict(preset['vit']),
            cnn=dict(preset['cnn']),
            with_cp=setting == 'loda_cp',
            **preset.get('loda', {})).to(device)
        optim_wrapper = build_optim_wrapper(model, optim_cfg)
        model.train()

        def step(batch):
            return model.train_step(batch, optim_wrapper)['loss']
    else:
        vit = build_timm_vit(**dict(preset['vit']))
        model = nn.ModuleDict(dict(vit=vit, head=nn.Linear(vit.embed_dim,
                                                           1))).to(device)
        optim_wrapper = build_optim_wrapper(model, optim_cfg)
        model.train()

        def step(batch):
            inputs = torch.stack(batch['inputs']).to(device).float()
            inputs = (inputs - 128.0) / 64.0
            targets = torch.tensor(
                [s.metainfo['mos'] for s in batch['data_samples']],
                device=device)
            features = model['vit'].forward_head(
                model['vit'].forward_features(inputs), pre_logits=True)
            loss = norm_in_norm_loss(model['head'](features)[:, 0], targets)
            optim_wrapper.update_params(loss)
            return loss.detach()

    return model, step


def run_setting(setting: str, args: argparse.Namespace, queue) -> None:
    """Times one setting in this (child) process and puts its numbers on
    ``queue``.
    """
    sys.path.insert(0, REPO)
    import torch
    from mmdet.structures import DetDataSample
    from mmengine.logging import MMLogger

    import struct_det  # noqa: F401  registers the losses and the preprocessor

    MMLogger.get_instance('loda_benchmark', log_level='WARNING')
    apply_threads(args)
    device = torch.device(args.device)
    preset = PRESETS[args.preset]
    torch.manual_seed(0)
    model, step = _build(setting, preset, device)
    size = preset['img_size']
    generator = torch.Generator().manual_seed(0)
    batch = dict(
        inputs=[
            torch.randint(
                0,
                256, (3, size, size),
                generator=generator,
                dtype=torch.uint8) for _ in range(args.batch_size)
        ],
        data_samples=[
            DetDataSample(metainfo=dict(mos=1.0 + (i % 5)))
            for i in range(args.batch_size)
        ])
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())

    cuda = device.type == 'cuda'
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        base = _current_rss_bytes()
    times: List[float] = []
    for index in range(args.warmup + args.steps):
        start = time.perf_counter()
        loss = step(batch)
        if cuda:
            torch.cuda.synchronize()
        if index >= args.warmup:
            times.append(time.perf_counter() - start)
        if not torch.isfinite(loss):
            raise RuntimeError(f'{setting}: non-finite loss {loss}')
    peak = (torch.cuda.max_memory_allocated()
            if cuda else _peak_rss_bytes()) - base
    queue.put(
        dict(
            setting=setting,
            trainable=trainable,
            total=total,
            time=statistics.median(times),
            memory=max(peak, 0)))


def measure(setting: str, args: argparse.Namespace) -> Dict[str, float]:
    ctx = mp.get_context('spawn')
    queue = ctx.Queue()
    process = ctx.Process(target=run_setting, args=(setting, args, queue))
    process.start()
    process.join()
    if process.exitcode != 0:
        raise RuntimeError(f'setting {setting!r} failed (exit code '
                           f'{process.exitcode})')
    return queue.get()


def main(argv=None) -> int:
    args = parse_args(argv)
    settings = ['full_finetune', 'loda'
                ] + (['loda_cp'] if args.with_cp else [])
    labels = dict(
        full_finetune='full fine-tuning of the ViT (baseline)',
        loda='LoDa (frozen ViT + CNN, adapter trains)',
        loda_cp='LoDa, with_cp=True')
    results = [measure(setting, args) for setting in settings]
    baseline = results[0]
    preset = PRESETS[args.preset]
    print(f"\npreset {args.preset}: {preset['vit']['model_name']} + "
          f"{preset['cnn']['model_name']}, {preset['img_size']} px, batch "
          f"{args.batch_size}, device {args.device}, median of {args.steps} "
          'steps\n')
    print('| setting | trainable / total params | step time (s) | peak step '
          'memory (MiB) | time ratio | memory ratio |')
    print('|---|---|---|---|---|---|')
    for res in results:
        print(f"| {labels[res['setting']]} | {res['trainable'] / 1e6:.2f}M / "
              f"{res['total'] / 1e6:.2f}M | {res['time']:.3f} | "
              f"{res['memory'] / 2**20:.0f} | "
              f"{res['time'] / baseline['time']:.2f} | "
              f"{res['memory'] / max(baseline['memory'], 1):.2f} |")
    return 0


if __name__ == '__main__':
    sys.exit(main())
