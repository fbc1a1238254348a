"""Trains a struct_det (or any mmdet) config; mmdet's tools/train.py flags."""
import argparse

from mmengine.config import Config

import struct_det  # noqa: F401  registers modules, allows mmengine checkpoints
from struct_det.utils import setup_cpu_distributed
from struct_det.utils.runner_cli import (add_launcher_args, build_runner,
                                         config_from_args, parse_launcher_args)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a detector or score '
                                     'regressor')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--amp',
        action='store_true',
        help='enable automatic-mixed-precision training')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the lr by the total batch size')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from this checkpoint, or from the latest in the work dir '
        'if none is given')
    add_launcher_args(parser)
    return parse_launcher_args(parser, argv)


def build_train_config(args: argparse.Namespace) -> Config:
    """Applies the command line to the config, as mmdet's train.py does."""
    cfg = config_from_args(args)
    if args.amp:
        optim_wrapper = cfg.optim_wrapper.type
        if optim_wrapper == 'AmpOptimWrapper':
            print('AMP training is already enabled in the config.')
        else:
            if optim_wrapper != 'OptimWrapper':
                raise ValueError(f'{args.config}: --amp needs '
                                 "optim_wrapper.type='OptimWrapper', the "
                                 f"config has {optim_wrapper!r}")
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.loss_scale = 'dynamic'
    if args.auto_scale_lr:
        if 'auto_scale_lr' in cfg and 'enable' in cfg.auto_scale_lr and \
                'base_batch_size' in cfg.auto_scale_lr:
            cfg.auto_scale_lr.enable = True
        else:
            raise RuntimeError('Can not find "auto_scale_lr" or '
                               '"auto_scale_lr.enable" or '
                               '"auto_scale_lr.base_batch_size" in your '
                               'configuration file.')
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    setup_cpu_distributed(cfg, args.launcher)
    return cfg


def main(argv=None) -> None:
    args = parse_args(argv)
    cfg = build_train_config(args)
    runner = build_runner(cfg)
    runner.train()


if __name__ == '__main__':
    main()
