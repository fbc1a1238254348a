"""Tests a struct_det (or any mmdet) config; mmdet's tools/test.py flags."""
import argparse

from mmengine.config import Config
from mmengine.logging import print_log

import struct_det  # noqa: F401  registers modules, allows mmengine checkpoints
from struct_det.engine import apply_calibrated_threshold
from struct_det.utils import apply_tta, setup_cpu_distributed
from struct_det.utils.runner_cli import (add_launcher_args, build_runner,
                                         config_from_args, parse_launcher_args)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test (and evaluate) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument(
        'checkpoint',
        nargs='?',
        default=None,
        help='checkpoint file (a joint config may name its members\' own)')
    parser.add_argument(
        '--work-dir', help='the directory to save the evaluation metrics')
    parser.add_argument(
        '--out',
        type=str,
        help='dump predictions to a pickle file (input of '
        'tools/make_submission.py)')
    parser.add_argument(
        '--show', action='store_true', help='show prediction results')
    parser.add_argument(
        '--show-dir',
        help='directory (inside the work dir) where painted images are saved')
    parser.add_argument(
        '--wait-time', type=float, default=2, help='the interval of show (s)')
    parser.add_argument(
        '--tta', action='store_true', help='test-time augmentation')
    add_launcher_args(parser)
    return parse_launcher_args(parser, argv)


def trigger_visualization_hook(cfg: Config,
                               args: argparse.Namespace) -> Config:
    default_hooks = cfg.get('default_hooks', {})
    if 'visualization' not in default_hooks:
        raise RuntimeError(
            f'{args.config}: --show/--show-dir need '
            'default_hooks.visualization '
            "(e.g. dict(type='DetVisualizationHook')) in the config")
    visualization_hook = default_hooks['visualization']
    visualization_hook['draw'] = True
    if args.show:
        visualization_hook['show'] = True
        visualization_hook['wait_time'] = args.wait_time
    if args.show_dir:
        visualization_hook['test_out_dir'] = args.show_dir
    return cfg


def build_test_config(args: argparse.Namespace) -> Config:
    """Applies the command line to the config, as mmdet's test.py does."""
    cfg = config_from_args(args)
    if args.checkpoint is not None:
        cfg.load_from = args.checkpoint
    # score_thr='calibrated' in the config's test_evaluator: the threshold the
    # val loop found best (stored by StructureCalibrationHook); a number set in
    # the config or via --cfg-options wins.
    apply_calibrated_threshold(cfg, args.checkpoint)
    if args.show or args.show_dir:
        cfg = trigger_visualization_hook(cfg, args)
    strategy = str((cfg.get('strategy') or {}).get('type', ''))
    sharded = strategy.startswith(('FSDP', 'DeepSpeed'))
    if cfg.get('runner_type') == 'FlexibleRunner' and sharded:
        # A sharding strategy is for training (its checkpoints are full state
        # dicts, see the config); mmengine's FSDP wrapper would also bypass a
        # TTA model's test_step.
        print_log(
            f'{args.config}: testing with the default runner, not {strategy}',
            logger='current')
        cfg.pop('runner_type')
        cfg.pop('strategy')
    if args.tta:
        cfg = apply_tta(cfg, args.config)
    setup_cpu_distributed(cfg, args.launcher)
    return cfg


def main(argv=None) -> None:
    args = parse_args(argv)
    cfg = build_test_config(args)
    runner = build_runner(cfg)
    if args.out is not None:
        if not args.out.endswith(('.pkl', '.pickle')):
            raise ValueError(f'--out {args.out}: the output file must be a '
                             '.pkl file')
        from mmdet.evaluation import DumpDetResults
        runner.test_evaluator.metrics.append(
            DumpDetResults(out_file_path=args.out))
    runner.test()


if __name__ == '__main__':
    main()
